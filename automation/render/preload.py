"""Everything a render imports, imported at once: what a render worker's fork server loads first.

Importing it has that effect only (no render, no Pulumi runtime): each worker forked afterwards
starts with the domain packages and the provider SDKs' modules in memory, instead of paying for
them, once per worker, at its first stack.
"""

from __future__ import annotations

import importlib

import automation.render.render  # noqa: F401 (the renderer, the mock runtime and the schemas)
from components.registry import default_registry

# The provider SDK modules that the domains reach through attributes (``k8s.apps.v1``), which
# the SDK imports lazily.
_LAZY_SDK_MODULES = (
    "pulumi_kubernetes.apps.v1",
    "pulumi_kubernetes.batch.v1",
    "pulumi_kubernetes.core.v1",
    "pulumi_kubernetes.meta.v1",
    "pulumi_kubernetes.networking.v1",
    "pulumi_kubernetes.rbac.v1",
    "pulumi_kubernetes.apiextensions",
)

default_registry()
for _module in _LAZY_SDK_MODULES:
    importlib.import_module(_module)
