"""WazuhCluster under mocks: the objects a user relies on, their validity, and the status output."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from automation.render.render import RenderedResource
from components.wazuh.builders import Names
from components.wazuh.component import CREDENTIAL_CONSUMERS
from tests.components.wazuh import fakes
from tests.harness import RenderedGraph, get_path

STS = "kubernetes:apps/v1:StatefulSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CRONJOB = "kubernetes:batch/v1:CronJob"
JOB = "kubernetes:batch/v1:Job"
SECRET = "kubernetes:core/v1:Secret"
CERT = "tls:index/locallySignedCert:LocallySignedCert"
HASH = "driftless.dev/cert-hash"
NAMESPACE = "security"


def document(
    spec: dict[str, Any] | None = None, name: str = "siem", namespace: str | None = NAMESPACE
) -> dict:
    base: dict[str, Any] = {
        "indexer": {"replicas": 3, "storage": "20Gi", "storageClass": "fast-ssd"},
        "manager": {"master": {"storage": "10Gi"}, "workers": {"replicas": 2, "storage": "15Gi"}},
    }
    merged = _merge(base, spec or {})
    metadata = {"name": name} | ({"namespace": namespace} if namespace else {})
    return {
        "apiVersion": "driftless.dev/v1alpha1",
        "kind": "WazuhCluster",
        "metadata": metadata,
        "spec": merged,
    }


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def written(graph: RenderedGraph, type_token: str) -> list[RenderedResource]:
    """What the stack registers of a type, leaving out the reads of live objects."""
    return [r for r in graph.of_type(type_token) if r.read is None]


def pod_hash(graph: RenderedGraph, name: str, type_token: str = STS) -> str:
    return graph.input(name, "spec.template.metadata.annotations", type_token)[HASH]


def assert_valid(graph: RenderedGraph) -> None:
    assert graph.problems == [], "\n".join(graph.problems)
    assert graph.warnings == [], "\n".join(graph.warnings)


@pytest.fixture
def rendered(render) -> RenderedGraph:
    return render([document()], outputs=fakes.all_outputs())


# --- objects -------------------------------------------------------------------------------------


def test_every_kubernetes_object_validates_against_the_schema(render):
    graph = render([document({"logRotation": {"enabled": True}})], outputs=fakes.all_outputs())
    assert_valid(graph)
    kinds = {r.inputs["kind"] for r in graph.kubernetes_objects()}
    assert {
        "StatefulSet",
        "Deployment",
        "Service",
        "Secret",
        "ConfigMap",
        "CronJob",
        "Job",
        "Namespace",
    } <= kinds


def test_preview_without_provider_outputs_is_valid_too(render):
    graph = render([document({"logRotation": {"enabled": True}})])
    assert_valid(graph)
    assert pod_hash(graph, "siem-indexer") == "[computed]"


def test_statefulsets_have_the_spec_replicas_and_storage(rendered):
    expected = {
        "siem-indexer": (3, "20Gi", "fast-ssd"),
        "siem-manager-master": (1, "10Gi", None),
        "siem-manager-worker": (2, "15Gi", None),
    }
    assert {r.name for r in written(rendered, STS)} == set(expected)
    for name, (replicas, storage, storage_class) in expected.items():
        spec = rendered.named(name, STS).inputs["spec"]
        assert spec["replicas"] == replicas, name
        [claim] = spec["volumeClaimTemplates"]
        assert claim["spec"]["resources"]["requests"]["storage"] == storage, name
        assert claim["spec"].get("storageClassName") == storage_class, name
        # every pod mounts its own claim
        mounted = {m["name"] for m in spec["template"]["spec"]["containers"][0]["volumeMounts"]}
        assert claim["metadata"]["name"] in mounted, name


def test_statefulsets_are_governed_by_headless_services(rendered):
    for name in ("siem-indexer", "siem-manager-master", "siem-manager-worker"):
        service = rendered.input(name, "spec.serviceName", STS)
        assert rendered.input(service, "spec.clusterIP", "kubernetes:core/v1:Service") == "None", name


def test_client_services_use_upstream_ports(rendered):
    def ports(name: str) -> set[int]:
        return {p["port"] for p in rendered.input(name, "spec.ports", "kubernetes:core/v1:Service")}

    assert ports("siem-indexer-api") == {9200}
    assert ports("siem-indexer") == {9300}
    assert ports("siem-manager") == {1515, 55000}
    assert ports("siem-manager-workers") == {1514}
    assert ports("siem-manager-cluster") == {1516}
    assert ports("siem-dashboard") == {443}


def test_indexer_prepares_the_node_before_starting(rendered):
    init = rendered.input("siem-indexer", "spec.template.spec.initContainers", STS)
    sysctl = next(c for c in init if "sysctl" in c["command"])
    assert "vm.max_map_count=262144" in sysctl["command"]
    assert sysctl["securityContext"]["privileged"] is True
    container = rendered.input("siem-indexer", "spec.template.spec.containers[0]", STS)
    assert container["readinessProbe"]["tcpSocket"]["port"] == 9200
    assert container["resources"]["limits"]["memory"]


def test_spec_resources_replace_the_defaults(render):
    resources = {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "4Gi"}}
    graph = render([document({"indexer": {"resources": resources}})])
    assert graph.input("siem-indexer", "spec.template.spec.containers[0].resources", STS) == resources


def test_dashboard_is_a_deployment_only_when_enabled(render):
    enabled = render([document({"dashboard": {"replicas": 2}})])
    assert enabled.input("siem-dashboard", "spec.replicas", DEPLOYMENT) == 2
    disabled = render([document({"dashboard": {"enabled": False}})])
    assert_valid(disabled)
    assert disabled.of_type(DEPLOYMENT) == []
    absent = {
        "siem-dashboard",
        "siem-dashboard-live",
        "siem-dashboard-certs",
        "siem-dashboard-conf",
        "siem-dashboard-cert",
    }
    assert absent.isdisjoint(r.name for r in disabled.resources)


def test_cronjob_only_when_log_rotation_is_enabled(render):
    assert render([document()]).of_type(CRONJOB) == []
    graph = render(
        [document({"logRotation": {"enabled": True, "schedule": "30 2 * * 0", "retentionDays": 14}})]
    )
    [cronjob] = graph.of_type(CRONJOB)
    assert cronjob.inputs["spec"]["schedule"] == "30 2 * * 0"
    script = get_path(cronjob.inputs, "spec.jobTemplate.spec.template.spec.containers[0].command[2]")
    assert "-mtime +14" in script
    # it may exec into the manager pods, and nothing else
    role = graph.named("siem-log-rotation", "kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert {r for rule in role.inputs["rules"] for r in rule["resources"]} == {"pods", "pods/exec"}


def test_every_object_is_in_the_target_namespace(render):
    graph = render([document({"logRotation": {"enabled": True}})], outputs=fakes.all_outputs())
    objects = graph.kubernetes_objects()
    assert objects
    for obj in objects:
        if obj.inputs["kind"] == "Namespace":
            assert obj.inputs["metadata"]["name"] == NAMESPACE
        else:
            assert obj.inputs["metadata"].get("namespace") == NAMESPACE, f"{obj.type} {obj.name}"


def test_namespace_defaults_to_the_document_name_and_may_pre_exist(render):
    graph = render([document(namespace=None, spec={"createNamespace": False})])
    assert graph.of_type("kubernetes:core/v1:Namespace") == []
    assert {o.inputs["metadata"]["namespace"] for o in graph.kubernetes_objects()} == {"siem"}


def test_two_clusters_in_one_namespace_do_not_collide(render):
    graph = render(
        [
            document(name="siem", spec={"createNamespace": False}),
            document(name="soc", spec={"createNamespace": False}),
        ],
        outputs=fakes.all_outputs(),
    )
    assert_valid(graph)
    names = [(o.inputs["kind"], o.inputs["metadata"]["name"]) for o in graph.kubernetes_objects()]
    assert len(names) == len(set(names))


# --- certificates ----------------------------------------------------------------------------------


def test_node_certificate_names_every_indexer_pod(render):
    graph = render([document({"indexer": {"replicas": 4}})])
    dns_names = graph.input("siem-node-csr", "dnsNames", "tls:index/certRequest:CertRequest")
    for ordinal in range(4):
        assert f"siem-indexer-{ordinal}.siem-indexer.{NAMESPACE}.svc.cluster.local" in dns_names
    assert "siem-indexer-4.siem-indexer.security.svc.cluster.local" not in dns_names
    assert {"siem-indexer", "siem-indexer-api", f"siem-indexer-api.{NAMESPACE}.svc.cluster.local"} <= set(
        dns_names
    )


def test_certificates_renew_early_and_live_as_configured(render):
    certificates = {"caValidityHours": 43800, "validityHours": 2160, "renewBeforeHours": 240}
    graph = render([document({"certificates": certificates})])
    ca = graph.named("siem-ca", "tls:index/selfSignedCert:SelfSignedCert").inputs
    assert (ca["validityPeriodHours"], ca["earlyRenewalHours"], ca["isCaCertificate"]) == (43800, 240, True)
    signed = graph.of_type(CERT)
    assert {c.name for c in signed} == {
        f"siem-{k}-cert" for k in ("node", "admin", "filebeat", "master", "worker", "dashboard")
    }
    for cert in signed:
        assert (cert.inputs["validityPeriodHours"], cert.inputs["earlyRenewalHours"]) == (2160, 240), (
            cert.name
        )


def test_opensearch_config_lists_the_node_and_admin_subjects(rendered):
    config = rendered.input("siem-indexer-conf", "data", "kubernetes:core/v1:ConfigMap")["opensearch.yml"]
    admin = rendered.input("siem-admin-csr", "subject", "tls:index/certRequest:CertRequest")
    node = rendered.input("siem-node-csr", "subject", "tls:index/certRequest:CertRequest")
    for subject in (admin, node):
        dn = f"CN={subject['commonName']},OU={subject['organizationalUnit']},O={subject['organization']}"
        assert dn in config


def test_cert_hash_is_stable_when_nothing_changes(render):
    first = render([document()], outputs=fakes.all_outputs())
    second = render([document()], outputs=fakes.all_outputs())
    for name in ("siem-indexer", "siem-manager-master", "siem-manager-worker"):
        assert pod_hash(first, name) == pod_hash(second, name)
        assert pod_hash(first, name).startswith("sha256:")
    assert pod_hash(first, "siem-dashboard", DEPLOYMENT) == pod_hash(second, "siem-dashboard", DEPLOYMENT)


def test_renewed_node_certificate_rolls_only_the_indexer(render):
    before = render([document()], outputs=fakes.all_outputs())
    after = render([document()], outputs=fakes.all_outputs(serials={"siem-node-cert": 2}))
    assert pod_hash(before, "siem-indexer") != pod_hash(after, "siem-indexer")
    for name in ("siem-manager-master", "siem-manager-worker"):
        assert pod_hash(before, name) == pod_hash(after, name), name
    assert pod_hash(before, "siem-dashboard", DEPLOYMENT) == pod_hash(after, "siem-dashboard", DEPLOYMENT)


def test_renewed_filebeat_certificate_rolls_only_the_managers(render):
    before = render([document()], outputs=fakes.all_outputs())
    after = render([document()], outputs=fakes.all_outputs(serials={"siem-filebeat-cert": 7}))
    assert pod_hash(before, "siem-indexer") == pod_hash(after, "siem-indexer")
    for name in ("siem-manager-master", "siem-manager-worker"):
        assert pod_hash(before, name) != pod_hash(after, name), name


def test_adding_a_worker_rolls_the_workers_and_never_the_master(render):
    def hashes(workers: int) -> dict[str, str]:
        graph = render(
            [document({"manager": {"workers": {"replicas": workers}}})], outputs=fakes.all_outputs()
        )
        assert_valid(graph)
        return {
            name: pod_hash(graph, name)
            for name in ("siem-indexer", "siem-manager-master", "siem-manager-worker")
        }

    two, three = hashes(2), hashes(3)
    # the new worker's name re-issues the workers' certificate, which only the workers mount
    assert two["siem-manager-worker"] != three["siem-manager-worker"]
    assert two["siem-manager-master"] == three["siem-manager-master"]
    assert two["siem-indexer"] == three["siem-indexer"]


def test_adding_an_indexer_node_re_issues_the_node_certificate(render):
    """The fakes issue a new certificate for new names; this is what makes the test above mean it."""
    three = render([document()], outputs=fakes.all_outputs())
    four = render([document({"indexer": {"replicas": 4}})], outputs=fakes.all_outputs())
    assert pod_hash(three, "siem-indexer") != pod_hash(four, "siem-indexer")
    assert pod_hash(three, "siem-manager-master") == pod_hash(four, "siem-manager-master")


def test_renewed_ca_rolls_every_pod(render):
    before = render([document()], outputs=fakes.all_outputs())
    after = render([document()], outputs=fakes.all_outputs(serials={"siem-ca": 2}))
    for name in ("siem-indexer", "siem-manager-master", "siem-manager-worker"):
        assert pod_hash(before, name) != pod_hash(after, name), name
    assert pod_hash(before, "siem-dashboard", DEPLOYMENT) != pod_hash(after, "siem-dashboard", DEPLOYMENT)


# --- secrets ---------------------------------------------------------------------------------------


def test_no_private_key_or_password_appears_in_the_render(render):
    graph = render([document({"logRotation": {"enabled": True}})], outputs=fakes.all_outputs())
    text = json.dumps(graph.result.to_json())
    assert "PRIVATE KEY" not in text
    for credential in ("indexer-admin", "dashboard-user", "api-user", "cluster-key", "authd-password"):
        assert fakes.password_for(f"siem-{credential}") not in text
    assert "$2a$" not in text
    # the Secrets exist and hold them, masked as a whole
    for secret in ("siem-indexer-certs", "siem-manager-certs", "siem-indexer-security", "siem-indexer-cred"):
        assert graph.named(secret, SECRET).inputs["stringData"] == "[secret]", secret


def test_pods_mount_only_their_own_keys(rendered):
    def mounted(name: str, type_token: str = STS) -> dict[str, set[str]]:
        """Secret name -> keys the pod template mounts from it."""
        spec = rendered.input(name, "spec.template.spec", type_token)
        secrets = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
        found: dict[str, set[str]] = {}
        for mount in spec["containers"][0]["volumeMounts"]:
            if mount["name"] in secrets:
                found.setdefault(secrets[mount["name"]], set()).add(mount["subPath"])
        return found

    indexer = mounted("siem-indexer")
    assert indexer["siem-indexer-certs"] == {
        "root-ca.pem",
        "node.pem",
        "node-key.pem",
        "admin.pem",
        "admin-key.pem",
    }
    for manager in ("siem-manager-master", "siem-manager-worker"):
        secrets = mounted(manager)
        assert "siem-indexer-certs" not in secrets, manager
        own = "master" if manager.endswith("master") else "worker"
        assert secrets["siem-manager-certs"] == {
            "root-ca.pem",
            "filebeat.pem",
            "filebeat-key.pem",
            f"{own}.pem",
            f"{own}-key.pem",
        }, manager
    assert mounted("siem-dashboard", DEPLOYMENT) == {
        "siem-dashboard-certs": {"root-ca.pem", "cert.pem", "key.pem"}
    }


def test_credentials_are_generated_unless_taken_from_vault(render):
    vault = {
        "indexerAdmin": "vault://secret/wazuh/siem#admin",
        "clusterKey": "vault://secret/wazuh/siem#clusterKey",
    }
    calls = {
        "vault:kv/getSecretV2:getSecretV2": lambda args: {
            "data": {"admin": "Vault.Admin-Pw1", "clusterKey": "k" * 32},
            "path": f"{args.args['mount']}/data/{args.args['name']}",
        }
    }
    graph = render([document({"credentials": vault})], outputs=fakes.all_outputs(), calls=calls)
    assert_valid(graph)
    passwords = {r.name for r in graph.of_type("random:index/randomPassword:RandomPassword")}
    assert passwords == {"siem-dashboard-user", "siem-api-user", "siem-authd-password"}
    # a Vault password gets a stable salt for its bcrypt hash; the key needs no hash
    salts = {
        r.name for r in graph.of_type("random:index/randomBytes:RandomBytes") if r.name.endswith("-salt")
    }
    assert salts == {"siem-indexer-admin-salt"}
    text = json.dumps(graph.result.to_json())
    assert "Vault.Admin-Pw1" not in text
    assert "k" * 32 not in text


# --- credential rotation -------------------------------------------------------------------------

CREDS_HASH = "driftless.dev/credentials-hash"
VAULT_CREDENTIALS = {
    "indexerAdmin": "vault://secret/wazuh/siem#admin",
    "dashboardUser": "vault://secret/wazuh/siem#kibanaserver",
    "apiUser": "vault://secret/wazuh/siem#api",
    "clusterKey": "vault://secret/wazuh/siem#clusterKey",
    "authdPassword": "vault://secret/wazuh/siem#authd",
}
VAULT_VALUES = {
    "admin": "Vault.Admin-Pw1",
    "kibanaserver": "Vault.Kibana-Pw1",
    "api": "Vault.Api-Pw1",
    "clusterKey": "k" * 32,
    "authd": "enroll-me",
}
CONSUMERS = {
    "siem-indexer": STS,
    "siem-manager-master": STS,
    "siem-manager-worker": STS,
    "siem-dashboard": DEPLOYMENT,
}


def from_vault(render, **changed: str) -> RenderedGraph:
    """Every credential from Vault, with ``changed`` keys holding new values (a rotation)."""
    values = VAULT_VALUES | changed
    calls = {
        "vault:kv/getSecretV2:getSecretV2": lambda args: {
            "data": values,
            "path": f"{args.args['mount']}/data/{args.args['name']}",
        }
    }
    graph = render([document({"credentials": VAULT_CREDENTIALS})], outputs=fakes.all_outputs(), calls=calls)
    assert_valid(graph)
    return graph


def credentials_hashes(graph: RenderedGraph) -> dict[str, str | None]:
    return {
        name: graph.input(name, "spec.template.metadata.annotations", kind).get(CREDS_HASH)
        for name, kind in CONSUMERS.items()
    }


def test_pods_that_read_credentials_carry_a_non_secret_keyed_hash_of_them(render):
    graph = from_vault(render)
    hashes = credentials_hashes(graph)
    assert hashes.pop("siem-indexer") is None  # restarting the indexer would not apply its users
    for name, value in hashes.items():
        assert value is not None, name
        assert re.fullmatch(r"hmac-sha256:[0-9a-f]{64}", value), name
    assert len(set(hashes.values())) == 3  # each pod hashes its own credentials
    text = json.dumps(graph.result.to_json())
    for secret in VAULT_VALUES.values():
        assert secret not in text


@pytest.mark.parametrize(
    ("key", "rolled"),
    [
        ("admin", {"siem-manager-master", "siem-manager-worker", "siem-dashboard"}),
        ("kibanaserver", {"siem-dashboard"}),
        ("api", {"siem-manager-master", "siem-dashboard"}),
        ("clusterKey", {"siem-manager-master", "siem-manager-worker"}),
        ("authd", {"siem-manager-master"}),
    ],
)
def test_a_rotated_credential_rolls_exactly_the_pods_that_read_it(render, key, rolled):
    before = credentials_hashes(from_vault(render))
    after = credentials_hashes(from_vault(render, **{key: VAULT_VALUES[key] + "-rotated"}))
    assert {name for name in CONSUMERS if before[name] != after[name]} == rolled


def test_the_hashed_credentials_are_the_ones_each_pod_references(rendered):
    """CREDENTIAL_CONSUMERS must follow the pod specs: every credential Secret a pod reads."""
    names = Names("siem", NAMESPACE)
    credential_of = {
        names.indexer_cred: "indexer_admin",
        names.dashboard_cred: "dashboard_user",
        names.api_cred: "api_user",
        names.cluster_key: "cluster_key",
        names.authd_pass: "authd_password",
    }
    workloads = {"manager-master": STS, "manager-worker": STS, "dashboard": DEPLOYMENT}
    for workload, kind in workloads.items():
        pod = rendered.input(f"siem-{workload}", "spec.template.spec", kind)
        secrets = {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
        for container in pod["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secrets.add(ref["name"])
        read = {credential_of[secret] for secret in secrets if secret in credential_of}
        assert read == set(CREDENTIAL_CONSUMERS[workload]), workload


def test_generated_passwords_satisfy_the_wazuh_password_policy(rendered):
    for name in ("siem-indexer-admin", "siem-dashboard-user", "siem-api-user"):
        inputs = rendered.named(name, "random:index/randomPassword:RandomPassword").inputs
        assert inputs["length"] >= 8
        assert min(inputs["minUpper"], inputs["minLower"], inputs["minNumeric"], inputs["minSpecial"]) >= 1
    cluster_key = rendered.named("siem-cluster-key", "random:index/randomPassword:RandomPassword").inputs
    assert (cluster_key["length"], cluster_key["special"]) == (32, False)


# --- readiness -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("wait", "annotation"), [(False, "true"), (True, None)])
def test_wait_for_ready_controls_the_provider_await(render, wait, annotation):
    graph = render([document({"waitForReady": wait})])
    for workload in [*written(graph, STS), *written(graph, DEPLOYMENT), *written(graph, JOB)]:
        annotations = workload.inputs["metadata"].get("annotations", {})
        assert annotations.get("pulumi.com/skipAwait") == annotation, workload.name


# --- status --------------------------------------------------------------------------------------

READY = {
    "siem-indexer": fakes.statefulset_ready(3),
    "siem-manager-master": fakes.statefulset_ready(1),
    "siem-manager-worker": fakes.statefulset_ready(2),
    "siem-dashboard": fakes.deployment_ready(1),
    "siem-indexer-users": fakes.job_complete(),
}


def status_of(graph: RenderedGraph) -> dict[str, Any]:
    return graph.outputs()["WazuhCluster/siem"]


def test_status_is_running_when_every_workload_is_ready(render):
    status = status_of(render([document()], outputs=fakes.all_outputs(READY)))
    assert status["phase"] == "Running"
    assert status["components"]["indexer"] == {"replicas": 3, "readyReplicas": 3, "phase": "Running"}
    assert status["components"]["managerWorkers"] == {"replicas": 2, "readyReplicas": 2, "phase": "Running"}
    assert status["requeueAfterSeconds"] == 30
    assert status["certificates"] == {"renewalDue": False, "notAfter": fakes.VALID_UNTIL}


def test_status_is_creating_while_the_indexer_comes_up(render):
    statuses = READY | {"siem-indexer": fakes.statefulset_starting(3, ready=1)}
    status = status_of(render([document()], outputs=fakes.all_outputs(statuses)))
    assert status["phase"] == "Creating"
    assert status["components"]["indexer"] == {"replicas": 3, "readyReplicas": 1, "phase": "Creating"}
    assert status["requeueAfterSeconds"] == 10


def test_status_is_pending_before_any_workload_reports(render):
    status = status_of(render([document()], outputs=fakes.all_outputs({})))
    assert status["phase"] == "Pending"
    assert status["requeueAfterSeconds"] == 10


def test_status_is_failed_when_the_dashboard_rollout_is_stuck(render):
    statuses = READY | {"siem-dashboard": fakes.deployment_stuck(1)}
    status = status_of(render([document()], outputs=fakes.all_outputs(statuses)))
    assert status["phase"] == "Failed"
    assert status["components"]["dashboard"]["phase"] == "Failed"


def test_certificate_due_for_renewal_asks_for_an_immediate_run(render):
    outputs = fakes.all_outputs(READY, renewal_due=frozenset({"siem-master-cert"}))
    status = status_of(render([document()], outputs=outputs))
    assert status["certificates"]["renewalDue"] is True
    assert status["requeueAfterSeconds"] == 0


def test_every_workload_is_read_back_every_run_and_the_read_owns_nothing(render):
    graph = render([document()], outputs=fakes.all_outputs(READY))
    reads = {r.name: r for r in graph.resources if r.read is not None}
    workloads = [*written(graph, STS), *written(graph, DEPLOYMENT), *written(graph, JOB)]
    assert {f"{w.name}-live" for w in workloads} == set(reads)
    for workload in workloads:
        read = reads[f"{workload.name}-live"]
        assert (read.type, read.read, read.parent) == (workload.type, f"{workload.name}-id", "siem")
        assert read.retain_on_delete is False


def test_the_status_is_the_live_one_not_what_was_written(render):
    """An ``up`` with nothing to change keeps a workload's outputs from its creation; the status
    must come from this run's read, or the phase never leaves Pending."""
    graph = render([document()], outputs=fakes.all_outputs(READY))
    for workload in [*written(graph, STS), *written(graph, DEPLOYMENT)]:
        assert workload.inputs.get("status") is None  # the written object carries no live status
    status = status_of(graph)
    assert status["phase"] == "Running"
    assert {c["phase"] for c in status["components"].values()} == {"Running"}
    assert status["requeueAfterSeconds"] == 30


def test_status_holds_no_secret(render):
    status = status_of(render([document()], outputs=fakes.all_outputs(READY)))
    assert "[secret]" not in json.dumps(status)
