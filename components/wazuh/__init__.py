"""Wazuh on Kubernetes (seed 001): the ``WazuhCluster`` kind.

- :mod:`.spec`: the validated document spec;
- :mod:`.builders`: pure spec → Kubernetes object functions (no Pulumi);
- :mod:`.certificates`: the CA and signed certificates with pulumi-tls, and how renewal works;
- :mod:`.credentials`: generated or Vault-sourced passwords;
- :mod:`.status`: phase and requeue inference from live workload status (no Pulumi);
- :mod:`.checks`: document-name limits that every derived Kubernetes name must fit, and the
  indexer scale-down guard against what was last applied;
- :mod:`.component`: the ComponentResource that wires them together.
"""

from __future__ import annotations

import pulumi

from components.common import vault
from components.common.spec import spec_of
from components.common.vault import VaultReference
from components.context import StackContext
from components.documents import Document, creates_its_namespace_unless_disabled
from components.registry import KindRegistration
from components.wazuh.checks import applied_facts, check_names, check_scale_down
from components.wazuh.component import WazuhCluster, WazuhClusterArgs
from components.wazuh.spec import WazuhClusterSpec


def create_wazuh_cluster(document: Document, context: StackContext) -> WazuhCluster:
    """Build a document's WazuhCluster; Vault references resolve through the stack's provider."""
    spec = spec_of(document, WazuhClusterSpec)

    def resolve(reference: VaultReference, parent: pulumi.Resource) -> pulumi.Output[str]:
        return vault.resolve(reference, context, parent)

    return WazuhCluster(
        document.name,
        WazuhClusterArgs(spec=spec, namespace=document.namespace, resolve_reference=resolve),
    )


KINDS = (
    KindRegistration(
        kind="WazuhCluster",
        spec_model=WazuhClusterSpec,
        create=create_wazuh_cluster,
        creates_namespace=creates_its_namespace_unless_disabled,
        check_stack=check_names,
        check_in_context=check_scale_down,
        applied_from_outputs=applied_facts,
    ),
)
