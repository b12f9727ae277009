"""Which certificates are planned, for which names and uses (no Pulumi)."""

from __future__ import annotations

from components.wazuh.builders import Names
from components.wazuh.certificates import certificate_plans
from components.wazuh.spec import WazuhClusterSpec

NAMES = Names("siem", "security")


def plans(**fields):
    return {p.key: p for p in certificate_plans(WazuhClusterSpec.model_validate(fields), NAMES)}


def test_node_certificate_has_a_san_for_every_indexer_pod():
    node = plans(indexer={"replicas": 5})["node"]
    for ordinal in range(5):
        assert f"siem-indexer-{ordinal}.siem-indexer.security.svc.cluster.local" in node.dns_names
        assert f"siem-indexer-{ordinal}.siem-indexer" in node.dns_names
    assert "siem-indexer-5.siem-indexer.security.svc.cluster.local" not in node.dns_names
    assert {"server_auth", "client_auth"} <= set(node.allowed_uses)  # nodes talk to each other


def test_manager_certificate_names_the_master_the_workers_and_the_services():
    manager = plans(manager={"workers": {"replicas": 2}})["manager"]
    assert "siem-manager-master-0.siem-manager-cluster.security.svc.cluster.local" in manager.dns_names
    assert "siem-manager-worker-1.siem-manager-cluster.security.svc.cluster.local" in manager.dns_names
    assert {"siem-manager", "siem-manager-workers.security.svc"} <= set(manager.dns_names)


def test_client_certificates_are_only_for_client_auth():
    planned = plans()
    for key in ("admin", "filebeat"):
        assert "client_auth" in planned[key].allowed_uses
        assert "server_auth" not in planned[key].allowed_uses


def test_dashboard_certificate_only_when_the_dashboard_is_enabled():
    assert "dashboard" in plans()
    assert set(plans(dashboard={"enabled": False})) == {"node", "admin", "filebeat", "manager"}
