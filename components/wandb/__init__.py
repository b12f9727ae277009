"""WandB (SPEC §1, source 002): the infra W&B runs on, as five operators' custom resources.

``spec.py`` is the document's spec, ``pieces/`` the pure write/infer functions per piece,
``resources.py`` one small component per piece, ``status.py`` the states and the summary,
``component.py`` the WandB component itself.
"""

from components.registry import KindRegistration
from components.wandb.component import KIND, WandB, create
from components.wandb.spec import WandBSpec

KINDS = (KindRegistration(kind=KIND, spec_model=WandBSpec, create=create, namespaced=True),)

__all__ = ["KINDS", "WandB", "WandBSpec"]
