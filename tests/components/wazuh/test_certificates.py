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


def test_master_and_worker_certificates_each_name_their_own_pods_and_service():
    planned = plans(manager={"workers": {"replicas": 2}})
    master, worker = planned["master"].dns_names, planned["worker"].dns_names
    assert "siem-manager-master-0.siem-manager-cluster.security.svc.cluster.local" in master
    assert "siem-manager-worker-1.siem-manager-cluster.security.svc.cluster.local" in worker
    assert {"siem-manager", "siem-manager.security.svc"} <= set(master)
    assert {"siem-manager-workers", "siem-manager-workers.security.svc"} <= set(worker)
    assert not any("worker" in name for name in master)
    assert not any("master" in name for name in worker)


def test_a_new_worker_changes_only_the_worker_certificate():
    two, three = plans(manager={"workers": {"replicas": 2}}), plans(manager={"workers": {"replicas": 3}})
    assert {key for key in two if two[key] != three[key]} == {"worker"}


def test_client_certificates_are_only_for_client_auth():
    planned = plans()
    for key in ("admin", "filebeat"):
        assert "client_auth" in planned[key].allowed_uses
        assert "server_auth" not in planned[key].allowed_uses


def test_dashboard_certificate_only_when_the_dashboard_is_enabled():
    assert "dashboard" in plans()
    assert set(plans(dashboard={"enabled": False})) == {"node", "admin", "filebeat", "master", "worker"}
