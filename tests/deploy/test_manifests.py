"""The manifests in ``deploy/``: valid for the Kubernetes API, consistent with each other and with
what the daemon and the program actually do in a cluster."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from automation.daemon.settings import DaemonSettings, load_settings
from automation.http import StatusServer
from automation.kube import load_access
from automation.metrics import Metrics
from automation.render.schemas import SchemaValidator
from tests.harness import render_spec

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CRDS = REPO.parent / "shared" / "crds"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
KUSTOMIZATION = "kustomization.yaml"
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRDs are large

# The Kubernetes API's resource name of each built-in kind the program writes or reads.
BUILTIN_RESOURCES = {
    ("", "Namespace"): "namespaces",
    ("", "Secret"): "secrets",
    ("", "ConfigMap"): "configmaps",
    ("", "Service"): "services",
    ("", "ServiceAccount"): "serviceaccounts",
    ("apps", "Deployment"): "deployments",
    ("apps", "StatefulSet"): "statefulsets",
    ("batch", "CronJob"): "cronjobs",
    ("batch", "Job"): "jobs",
    ("networking.k8s.io", "Ingress"): "ingresses",
    ("rbac.authorization.k8s.io", "Role"): "roles",
    ("rbac.authorization.k8s.io", "RoleBinding"): "rolebindings",
}
# What the Kubernetes provider does with an object it writes (server-side apply, delete, refresh),
# and with one it only reads.
WRITE_VERBS = ("get", "create", "patch", "delete")
READ_VERBS = ("get",)


# --- reading deploy/


def kustomization() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / KUSTOMIZATION).read_text(encoding="utf-8")))


@cache
def manifest_objects() -> list[tuple[str, dict[str, Any]]]:
    """Every object of every file the kustomization lists, with its file name."""
    found = []
    for name in kustomization()["resources"]:
        for document in yaml.safe_load_all((DEPLOY / name).read_text(encoding="utf-8")):
            if document is not None:
                found.append((name, dict(document)))
    return found


def objects() -> list[dict[str, Any]]:
    return [obj for _, obj in manifest_objects()]


def only(kind: str) -> dict[str, Any]:
    matches = [obj for obj in objects() if obj["kind"] == kind]
    assert len(matches) == 1, f"deploy/ should hold one {kind}, it holds {len(matches)}"
    return matches[0]


def named(kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    for obj in objects():
        metadata = obj["metadata"]
        if obj["kind"] == kind and metadata["name"] == name and metadata.get("namespace") == namespace:
            return obj
    return None


def daemon_container() -> dict[str, Any]:
    (container,) = only("Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(container)


def option(command: list[str], flag: str) -> str:
    assert flag in command, f"the daemon's command line has no {flag}: {command}"
    return command[command.index(flag) + 1]


def env_value(container: Mapping[str, Any], name: str) -> dict[str, Any]:
    for entry in container.get("env") or ():
        if entry["name"] == name:
            return dict(entry)
    raise AssertionError(f"the daemon container sets no {name}")


def mounted_file(path: str) -> tuple[dict[str, Any], str]:
    """The volume a path of the daemon container lies on, and the path inside that volume."""
    container = daemon_container()
    volumes = {v["name"]: v for v in only("Deployment")["spec"]["template"]["spec"]["volumes"]}
    mounts = sorted(container["volumeMounts"], key=lambda m: len(m["mountPath"]), reverse=True)
    for mount in mounts:
        root = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(root) or path == mount["mountPath"]:
            return {**volumes[mount["name"]], "readOnly": mount.get("readOnly", False)}, path[len(root) :]
    raise AssertionError(f"{path} is on no volume of the daemon container (the root filesystem is read-only)")


def configmap_settings(tmp_path: Path) -> DaemonSettings:
    """The daemon's settings as it loads them from the ConfigMap it mounts as --config."""
    volume, key = mounted_file(option(daemon_container()["command"], "--config"))
    configmap = named("ConfigMap", volume["configMap"]["name"], only("Deployment")["metadata"]["namespace"])
    assert configmap is not None
    path = tmp_path / "driftless.yaml"
    path.write_text(configmap["data"][key], encoding="utf-8")
    return load_settings(path)


def grants(rules: Sequence[Mapping[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(
        group in rule.get("apiGroups", ()) and resource in rule.get("resources", ()) and verb in rule["verbs"]
        for rule in rules
    )


# --- valid objects, the kustomization complete


def test_the_kustomization_lists_every_manifest_in_deploy() -> None:
    listed = kustomization()["resources"]
    on_disk = sorted(p.name for p in DEPLOY.glob("*.yaml") if p.name != KUSTOMIZATION)

    assert sorted(listed) == on_disk
    assert len(listed) == len(set(listed))


def test_every_manifest_is_valid_for_the_kubernetes_api() -> None:
    validator = SchemaValidator()  # render's validation: the Kubernetes OpenAPI schema, strict
    problems = [
        f"deploy/{file}: {obj.get('kind')} {obj.get('metadata', {}).get('name')}: {f.path}: {f.message}"
        for file, obj in manifest_objects()
        for f in validator.validate(obj)
    ]

    assert problems == []
    kinds = {obj["kind"] for obj in objects()}
    assert kinds >= {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
    }


def test_the_schema_validation_catches_a_broken_manifest() -> None:
    """The validation the manifests pass is strict: an unknown or mistyped field fails it."""
    deployment = only("Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 3, "replicas": "3"}}

    messages = [f.message for f in SchemaValidator().validate(broken)]

    assert any("'replica' was unexpected" in m for m in messages)
    assert any("'3' is not of type 'integer'" in m for m in messages)


def test_every_namespaced_object_is_in_the_namespace_deploy_creates() -> None:
    namespace = only("Namespace")["metadata"]["name"]
    cluster_wide = {"Namespace", "ClusterRole", "ClusterRoleBinding"}

    for obj in objects():
        where = obj["metadata"].get("namespace")
        assert where == (None if obj["kind"] in cluster_wide else namespace), obj["metadata"]["name"]


# --- cross-references


def test_the_deployment_runs_as_the_service_account_deploy_creates() -> None:
    deployment = only("Deployment")
    pod = deployment["spec"]["template"]["spec"]

    assert named("ServiceAccount", pod["serviceAccountName"], deployment["metadata"]["namespace"])
    # the kubeconfig below authenticates with this ServiceAccount's mounted token
    assert pod.get("automountServiceAccountToken", True) is True
    assert only("ServiceAccount").get("automountServiceAccountToken", True) is True


def test_every_binding_names_a_role_and_service_account_that_exist() -> None:
    bindings = [obj for obj in objects() if obj["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert bindings

    for binding in bindings:
        ref = binding["roleRef"]
        role_namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        assert ref["apiGroup"] == "rbac.authorization.k8s.io"
        assert named(ref["kind"], ref["name"], role_namespace), f"{binding['metadata']['name']}: no {ref}"
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount"
            assert named("ServiceAccount", subject["name"], subject["namespace"]), subject


def test_every_configmap_the_deployment_mounts_exists_with_the_keys_it_reads() -> None:
    deployment = only("Deployment")
    container = daemon_container()
    namespace = deployment["metadata"]["namespace"]
    mounted = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
    assert mounted

    for volume in mounted:
        assert named("ConfigMap", volume["configMap"]["name"], namespace), volume
    for path in (option(container["command"], "--config"), env_value(container, "KUBECONFIG")["value"]):
        volume, key = mounted_file(path)
        configmap = named("ConfigMap", volume["configMap"]["name"], namespace)
        assert configmap is not None, path
        assert key in configmap["data"], path


def test_the_disruption_budget_and_the_deployment_select_the_same_pods() -> None:
    deployment, budget = only("Deployment"), only("PodDisruptionBudget")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    assert budget["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    # a drain leaves at least two of the three replicas to take the evicted one's stacks
    assert deployment["spec"]["replicas"] == 3
    assert budget["spec"]["maxUnavailable"] == 1


def test_the_leases_live_where_the_role_lets_the_replicas_write_them(tmp_path: Path) -> None:
    settings = configmap_settings(tmp_path)
    role = named("Role", "driftless-leases", settings.leases.namespace)

    assert role is not None, f"no Role for Leases in {settings.leases.namespace}"
    assert role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "list", "create", "update", "delete"],
        }
    ]
    assert settings.leases.namespace == only("Deployment")["metadata"]["namespace"]


def test_the_daemon_may_read_any_registry_credentials_secret_and_nothing_else() -> None:
    role = named("ClusterRole", "driftless-daemon")

    assert role is not None
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]


# --- the daemon's pod


def test_each_replica_runs_sharded_under_its_pod_name() -> None:
    container = daemon_container()
    command = container["command"]

    assert command[:5] == ["python", "-m", "automation", "run", "--shard-by-lease"]
    assert option(command, "--http-host") == "0.0.0.0"
    assert env_value(container, "POD_NAME")["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_the_pulumi_backend_comes_from_a_secret_the_readme_says_to_create() -> None:
    container = daemon_container()
    backend = env_value(container, "PULUMI_BACKEND_URL")["valueFrom"]["secretKeyRef"]
    referenced = {backend["name"]} | {
        entry["secretRef"]["name"] for entry in container.get("envFrom") or () if "secretRef" in entry
    }
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Running in a cluster") :]
    section = section[: section.find("\n## ", 1)]

    assert not backend.get("optional", False)
    for secret in referenced:
        assert f"secret generic {secret}" in section, secret
    assert f"{backend['key']}=" in section


def test_everything_the_daemon_writes_is_on_a_writable_volume() -> None:
    container = daemon_container()
    pod = only("Deployment")["spec"]["template"]["spec"]
    written = [
        container["workingDir"],  # the project: an up writes Pulumi.<stack>.yaml beside Pulumi.yaml
        option(container["command"], "--state-dir"),
        env_value(container, "PULUMI_HOME")["value"],
        env_value(container, "HOME")["value"],
        "/tmp",
    ]

    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    for path in written:
        volume, _ = mounted_file(path)
        assert "emptyDir" in volume, path
        assert not volume["readOnly"], path
    # the init container fills the project copy the daemon runs in
    (init,) = pod["initContainers"]
    assert init["image"] == container["image"]
    assert container["workingDir"] in " ".join(init["command"])


def test_the_pod_outlives_the_daemons_own_shutdown(tmp_path: Path) -> None:
    """SIGTERM: operations run for gracePeriodSeconds, are cancelled, get 30 s more, and the run
    exits 10 s after that at the latest; only then are the Leases released."""
    settings = configmap_settings(tmp_path)
    pod = only("Deployment")["spec"]["template"]["spec"]

    assert pod["terminationGracePeriodSeconds"] > settings.grace_period_seconds + 30 + 10


def test_the_scrape_annotations_name_the_port_the_daemon_serves() -> None:
    deployment = only("Deployment")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    container = daemon_container()
    (port,) = container["ports"]

    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == port["containerPort"]
    assert int(option(container["command"], "--http-port")) == port["containerPort"]


# --- the probes and the scrape pass the status endpoint's Host check


@pytest.fixture
def served(tmp_path: Path) -> Iterator[StatusServer]:
    """The status endpoint as the pod runs it: its address and the ConfigMap's settings."""
    settings = configmap_settings(tmp_path)
    host = option(daemon_container()["command"], "--http-host")
    server = StatusServer(
        lambda: {"stacks": []},
        Metrics(),
        lambda: True,
        host=host,
        port=0,
        allowed_hosts=settings.http.allowed_hosts,
    )
    server.start()
    yield server
    server.stop()


def get(port: int, path: str, host_header: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host_header})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("probe", ["startupProbe", "livenessProbe", "readinessProbe"])
def test_kubelets_probe_is_answered(served: StatusServer, probe: str) -> None:
    check = daemon_container()[probe]["httpGet"]
    headers = {h["name"]: h["value"] for h in check.get("httpHeaders") or ()}
    # kubelet sends Host <pod IP>:<port> unless the probe sets one
    host = headers.get("Host", f"10.244.1.7:{served.port}")

    assert check["port"] == daemon_container()["ports"][0]["name"]
    assert get(served.port, check["path"], host) == 200


def test_prometheus_scraping_by_pod_ip_is_answered(served: StatusServer) -> None:
    annotations = only("Deployment")["spec"]["template"]["metadata"]["annotations"]

    assert get(served.port, annotations["prometheus.io/path"], f"10.244.1.7:{served.port}") == 200


def test_a_name_the_configmap_does_not_allow_is_still_refused(served: StatusServer) -> None:
    assert get(served.port, "/stacks", f"rebound.example:{served.port}") == 421


# --- the kubeconfig the pod uses


def test_the_kubeconfig_reaches_the_apiserver_with_the_pods_service_account(tmp_path: Path) -> None:
    container = daemon_container()
    volume, key = mounted_file(env_value(container, "KUBECONFIG")["value"])
    configmap = named("ConfigMap", volume["configMap"]["name"], only("Deployment")["metadata"]["namespace"])
    assert configmap is not None
    text = configmap["data"][key]
    # the files kubelet mounts into every pod, here in a folder of the test's
    (tmp_path / "token").write_text("service-account-token\n")
    (tmp_path / "ca.crt").write_bytes(b"cluster CA")

    access = load_access(text.replace(SERVICE_ACCOUNT_DIR, str(tmp_path)), "kubeconfig", tmp_path, {})
    in_cluster = load_access(
        text.replace(SERVICE_ACCOUNT_DIR, str(tmp_path)),
        "kubeconfig",
        tmp_path,
        {"kubernetes:context": "in-cluster"},
    )

    assert SERVICE_ACCOUNT_DIR in text
    assert access.server == "https://kubernetes.default.svc"
    assert access.token == "service-account-token"
    assert access.ca_data == b"cluster CA"
    assert in_cluster == access


# --- the components' ClusterRole covers what the program writes and reads


@cache
def crd_resources() -> dict[tuple[str, str], str]:
    """(group, kind) -> resource name, from the operators' CRDs."""
    if not CRDS.is_dir():
        pytest.fail(f"the operators' CRDs were not found at {CRDS}")
    found = {}
    for path in sorted(CRDS.glob("*.yaml")):
        for crd in yaml.load_all(path.read_text(encoding="utf-8"), Loader=LOADER):
            if crd and crd.get("kind") == "CustomResourceDefinition":
                spec = crd["spec"]
                found[(spec["group"], spec["names"]["kind"])] = spec["names"]["plural"]
    return found


def components_rules() -> list[dict[str, Any]]:
    role = named("ClusterRole", "driftless-components")
    assert role is not None
    return list(role["rules"])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The example dev stack (every kind), with a commit observed so that its Project builds."""
    observations = {
        "now": "2026-11-21T12:00:00Z",
        "git": {"https://git.corp.com/acme/api.git": {"main": "a" * 40, "feature/new-api": "b" * 40}},
    }
    graph = render_spec(
        REPO / "stacks" / "dev.yaml", tmp_path_factory.mktemp("dev"), stack="dev", observations=observations
    )
    return [r for r in graph.result.resources if r.type.startswith("kubernetes:")]


def test_the_components_role_allows_everything_an_up_of_the_example_stack_does(rendered: list[Any]) -> None:
    resources = {**BUILTIN_RESOURCES, **crd_resources()}
    rules = components_rules()
    missing = set()

    for resource in rendered:
        api_version, kind = resource.type.removeprefix("kubernetes:").rsplit(":", 1)
        group = "" if api_version.startswith("core/") else api_version.rsplit("/", 1)[0]
        plural = resources[(group, kind)]
        for verb in READ_VERBS if resource.read else WRITE_VERBS:
            if not grants(rules, group, plural, verb):
                missing.add(f"{verb} {plural}.{group or 'core'}")

    assert missing == set()
    kinds = {r.type.rsplit(":", 1)[1] for r in rendered}
    assert {"Image", "Job", "Role", "ClusterIssuer", "Kafka"} <= kinds  # the render reached every domain


def test_the_components_role_holds_every_permission_of_the_roles_the_program_grants(
    rendered: list[Any],
) -> None:
    """Kubernetes lets a subject create a Role only with permissions it holds itself."""
    roles = [r for r in rendered if r.type.endswith(":Role") and not r.read]
    assert roles
    rules = components_rules()

    for role in roles:
        for rule in role.inputs["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        assert grants(rules, group, resource, verb), (role.name, group, resource, verb)


def test_every_custom_resource_the_components_role_names_exists() -> None:
    known = {(group, plural) for (group, _), plural in crd_resources().items()}
    builtin_groups = {"", "apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io"}

    for rule in components_rules():
        for group in rule["apiGroups"]:
            if group in builtin_groups:
                continue
            for resource in rule["resources"]:
                assert (group, resource) in known, f"{resource}.{group}: no such CRD"


def test_the_components_role_never_updates_escalates_or_impersonates() -> None:
    verbs = {verb for rule in components_rules() for verb in rule["verbs"]}

    assert verbs <= {"get", "list", "watch", "create", "patch", "delete"}
    assert not any(re.search(r"\*", str(rule)) for rule in components_rules())
