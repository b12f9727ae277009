"""The driftless Pulumi program: what `pulumi up` runs for a stack.

It is the only place that reads ``pulumi.Config``. Everything else receives typed values.
"""

import os
from pathlib import Path

import pulumi

from components.common.kubernetes import PATCH_FORCE_ANNOTATION, annotate_every_object
from components.common.objects import SKIP_AWAIT_ANNOTATION
from components.context import ProgramSettings, StackContext
from components.documents import load_stack_file
from components.observations import Observations
from components.program import run_stack
from components.registry import default_registry

PROJECT_DIR = Path(__file__).resolve().parent

# A cluster that runs no pods (the engine sandbox) sets this: readiness waits could only time out.
SKIP_AWAIT_ENV = "DRIFTLESS_SKIP_AWAIT"


def main() -> None:
    config = pulumi.Config("driftless")
    how_to_apply = {PATCH_FORCE_ANNOTATION: "true"}
    if os.environ.get(SKIP_AWAIT_ENV, "").lower() in ("1", "true", "yes"):
        how_to_apply[SKIP_AWAIT_ANNOTATION] = "true"
    annotate_every_object(how_to_apply)
    stack = pulumi.get_stack()
    stack_file = config.get("stackFile") or f"stacks/{stack}.yaml"
    stack_path = Path(stack_file)
    if not stack_path.is_absolute():
        stack_path = PROJECT_DIR / stack_path
    observations_file = config.get("observationsFile")

    settings = ProgramSettings(
        project_dir=PROJECT_DIR,
        vault_address=config.get("vaultAddress"),
        vault_token=config.get_secret("vaultToken"),
        # Stack config (``driftless:<key>``) the kinds declare they read (their options models).
        options={
            key: value for key in default_registry().option_names() if (value := config.get(key)) is not None
        },
    )
    context = StackContext(
        stack=stack,
        documents=load_stack_file(stack_path),
        observations=Observations.load(observations_file),
        settings=settings,
    )
    run_stack(context)


main()
