"""WandB: the infra W&B runs on, as five operators' custom resources.

``spec.py`` is the document's spec, ``pieces/`` the pure write/infer functions per piece,
``resources.py`` one small component per piece, ``status.py`` the states and the summary,
``component.py`` the WandB component itself.
"""

from components.documents import creates_its_namespace_unless_disabled, one_namespace_each
from components.registry import KindRegistration
from components.wandb.component import KIND, WandB, create
from components.wandb.spec import WandBSpec

KINDS = (
    KindRegistration(
        kind=KIND,
        spec_model=WandBSpec,
        create=create,
        namespaced=True,
        # MinIO allows one Tenant per namespace and every piece is named after the document, so
        # two WandB documents in one namespace could only fight, even when neither creates it.
        check_stack=one_namespace_each(KIND, "each WandB needs a namespace of its own"),
        creates_namespace=creates_its_namespace_unless_disabled,
    ),
)

__all__ = ["KINDS", "WandB", "WandBSpec"]
