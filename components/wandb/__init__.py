"""WandB: the infra W&B runs on, as five operators' custom resources.

- :mod:`.spec`: the validated document spec;
- :mod:`.builders`: the pure write (spec → custom resource) and infer (live status → state)
  functions, one module per piece (no Pulumi);
- :mod:`.status`: the states and their summary;
- :mod:`.resources`: one small ComponentResource per piece;
- :mod:`.component`: the WandB ComponentResource itself.
"""

from __future__ import annotations

from components.common.spec import spec_of
from components.context import StackContext
from components.documents import Document, creates_its_namespace_unless_disabled, one_namespace_each
from components.registry import KindRegistration
from components.wandb.component import KIND, WandB, WandBArgs
from components.wandb.spec import WandBSpec


def create_wandb(document: Document, context: StackContext) -> WandB:
    """Build a document's WandB: one component per enabled piece."""
    spec = spec_of(document, WandBSpec)
    return WandB(document.name, WandBArgs(document.name, document.namespace, spec))


KINDS = (
    KindRegistration(
        kind=KIND,
        spec_model=WandBSpec,
        create=create_wandb,
        namespaced=True,
        # MinIO allows one Tenant per namespace and every piece is named after the document, so
        # two WandB documents in one namespace could only fight, even when neither creates it.
        check_stack=one_namespace_each(KIND, "each WandB needs a namespace of its own"),
        creates_namespace=creates_its_namespace_unless_disabled,
    ),
)

__all__ = ["KINDS", "WandB", "WandBSpec"]
