"""The pure builders, without Pulumi: names, configuration files, objects, hashes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import yaml

from automation.render.schemas import SchemaValidator
from components.wazuh import builders
from components.wazuh.builders import Names
from components.wazuh.spec import WazuhClusterSpec

NAMES = Names("siem", "security")
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


def spec(**fields) -> WazuhClusterSpec:
    return WazuhClusterSpec.model_validate(fields)


def all_objects(s: WazuhClusterSpec) -> list[dict]:
    objects = [builders.namespace(NAMES), *builders.services(s, NAMES)]
    objects += [
        builders.indexer_statefulset(s, NAMES, "sha256:a", SKIP_AWAIT),
        builders.manager_master_statefulset(s, NAMES, "sha256:b", SKIP_AWAIT),
        builders.manager_worker_statefulset(s, NAMES, "sha256:b", {}),
        builders.config_map(
            NAMES, NAMES.indexer_conf, "wazuh-indexer", builders.indexer_config_data(s, NAMES)
        ),
        builders.config_map(
            NAMES, NAMES.manager_conf, "wazuh-manager", builders.manager_config_data(s, NAMES)
        ),
        builders.credential_secret(NAMES, NAMES.indexer_cred, "admin", "not-a-real-password"),
    ]
    if s.dashboard.enabled:
        objects.append(builders.dashboard_deployment(s, NAMES, "sha256:c", SKIP_AWAIT))
    if s.log_rotation.enabled:
        objects += builders.log_rotation_objects(s, NAMES)
    return objects


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {
            "indexer": {"replicas": 1},
            "manager": {"workers": {"replicas": 1}},
            "dashboard": {"enabled": False},
        },
        {
            "logRotation": {"enabled": True},
            "indexer": {"storageClass": "gp3", "resources": {"limits": {"cpu": "2"}}},
        },
    ],
)
def test_builders_produce_valid_kubernetes_objects(fields):
    validator = SchemaValidator()
    for obj in all_objects(spec(**fields)):
        findings = validator.validate(obj)
        assert findings == [], f"{obj['kind']} {obj['metadata']['name']}: {findings}"


def test_every_namespaced_object_names_the_namespace():
    for obj in all_objects(spec(logRotation={"enabled": True})):
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "security", obj["metadata"]["name"]


def test_pod_templates_carry_the_given_cert_hash_and_await_annotations():
    s = spec()
    indexer = builders.indexer_statefulset(s, NAMES, "sha256:abc", SKIP_AWAIT)
    assert (
        indexer["spec"]["template"]["metadata"]["annotations"][builders.CERT_HASH_ANNOTATION] == "sha256:abc"
    )
    assert indexer["metadata"]["annotations"] == SKIP_AWAIT
    awaited = builders.dashboard_deployment(s, NAMES, "sha256:abc", {})
    assert "annotations" not in awaited["metadata"]


def test_credentials_hash_is_keyed_and_changes_with_any_value_and_only_then():
    key, values = b"k" * 32, ["Admin.Pw-1", "k" * 32]
    digest = builders.credentials_hash(key, values)
    assert digest == builders.credentials_hash(key, list(values))
    assert digest != builders.credentials_hash(key, [values[0], values[1] + "x"])
    assert builders.credentials_hash(key, ["ab", "c"]) != builders.credentials_hash(key, ["a", "bc"])
    # without the key, the annotation says nothing: not even a plain hash of the values matches
    assert digest != builders.credentials_hash(b"j" * 32, values)
    assert digest.startswith("hmac-sha256:")
    template = builders.manager_worker_statefulset(spec(), NAMES, "h", {}, digest)["spec"]["template"]
    assert template["metadata"]["annotations"][builders.CREDENTIALS_HASH_ANNOTATION] == digest


def test_cert_hash_changes_with_any_pem_and_only_then():
    pems = ["-----BEGIN CERTIFICATE-----\nAAA\n", "-----BEGIN CERTIFICATE-----\nBBB\n"]
    assert builders.cert_hash(pems) == builders.cert_hash(list(pems))
    assert builders.cert_hash(pems) != builders.cert_hash([pems[0], pems[1] + "C"])
    assert builders.cert_hash(["ab", "c"]) != builders.cert_hash(["a", "bc"])
    assert builders.cert_hash(pems).startswith("sha256:")


def test_config_hash_follows_the_configuration():
    s = spec()
    one = builders.indexer_statefulset(s, NAMES, "h", {})
    three = builders.indexer_statefulset(spec(indexer={"replicas": 4}), NAMES, "h", {})
    key = builders.CONFIG_HASH_ANNOTATION
    assert (
        one["spec"]["template"]["metadata"]["annotations"][key]
        != three["spec"]["template"]["metadata"]["annotations"][key]
    )


def test_opensearch_yml_discovers_every_pod_and_trusts_the_mounted_certificates():
    config = yaml.safe_load(builders.opensearch_yml(spec(indexer={"replicas": 3}), NAMES))
    pods = ["siem-indexer-0", "siem-indexer-1", "siem-indexer-2"]
    assert config["cluster.initial_master_nodes"] == pods
    assert config["discovery.seed_hosts"] == [f"{p}.siem-indexer" for p in pods]
    assert (
        config["plugins.security.ssl.http.pemkey_filepath"]
        == "/usr/share/wazuh-indexer/config/certs/node-key.pem"
    )
    assert config["plugins.security.nodes_dn"] == ["CN=indexer,OU=siem,O=Wazuh"]
    assert config["plugins.security.authcz.admin_dn"] == ["CN=admin,OU=siem,O=Wazuh"]


def test_indexer_mounts_follow_the_version_layout():
    def mount_paths(version: str) -> set[str]:
        sts = builders.indexer_statefulset(spec(version=version), NAMES, "h", {})
        return {m["mountPath"] for m in sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}

    assert "/usr/share/wazuh-indexer/config/opensearch.yml" in mount_paths("4.14.6")
    assert "/usr/share/wazuh-indexer/opensearch.yml" in mount_paths("4.13.1")


@pytest.mark.parametrize("node_type", ["master", "worker"])
def test_ossec_conf_is_xml_joining_the_master(node_type):
    document = ET.fromstring(f"<conf>{builders.ossec_conf(spec(), NAMES, node_type)}</conf>")
    cluster = document.find("ossec_config/cluster")
    assert cluster is not None
    assert cluster.findtext("node_type") == node_type
    assert (
        cluster.findtext("nodes/node")
        == "siem-manager-master-0.siem-manager-cluster.security.svc.cluster.local"
    )
    assert cluster.findtext("key") == "to_be_replaced_by_cluster_key"  # filled from WAZUH_CLUSTER_KEY


def test_internal_users_keep_no_demo_user():
    users = yaml.safe_load(builders.internal_users_yml("$2a$12$admin", "$2a$12$dashboard"))
    assert set(users) == {"_meta", "admin", "kibanaserver"}
    assert users["admin"]["hash"] == "$2a$12$admin"
    assert users["kibanaserver"]["hash"] == "$2a$12$dashboard"


def test_managers_read_credentials_from_secrets_only():
    master = builders.manager_master_statefulset(spec(), NAMES, "h", {})
    env = {e["name"]: e for e in master["spec"]["template"]["spec"]["containers"][0]["env"]}
    for name in ("INDEXER_PASSWORD", "API_PASSWORD", "WAZUH_CLUSTER_KEY"):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["name"].startswith("siem-")


def test_workers_spread_over_nodes_and_the_master_has_one_replica():
    s = spec(manager={"workers": {"replicas": 3}})
    master = builders.manager_master_statefulset(s, NAMES, "h", {})
    workers = builders.manager_worker_statefulset(s, NAMES, "h", {})
    assert master["spec"]["replicas"] == 1
    assert workers["spec"]["replicas"] == 3
    assert "podAntiAffinity" in workers["spec"]["template"]["spec"]["affinity"]


def test_headless_services_publish_pods_before_they_are_ready():
    headless = [s for s in builders.services(spec(), NAMES) if s["spec"].get("clusterIP") == "None"]
    assert {s["metadata"]["name"] for s in headless} == {"siem-indexer", "siem-manager-cluster"}
    assert all(s["spec"]["publishNotReadyAddresses"] for s in headless)


def test_log_rotation_script_targets_this_clusters_managers():
    s = spec(logRotation={"enabled": True, "retentionDays": 30})
    script = builders.log_rotation_script(s, NAMES)
    assert "-n security" in script
    assert "app.kubernetes.io/instance=siem" in script
    assert "app.kubernetes.io/name=wazuh-manager" in script
    assert "-mtime +30" in script
