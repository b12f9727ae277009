"""Settings real clusters need: a private registry, pull secrets, the cluster domain, external
certificate names, the indexer heap, and owner-only Secret files."""

from __future__ import annotations

from typing import Any

import pytest

from components.documents import StackFileError, load_stack_text
from tests.components.wazuh import fakes
from tests.components.wazuh.test_component import (
    CRONJOB,
    DEPLOYMENT,
    STS,
    assert_valid,
    document,
    written,
)
from tests.harness import RenderedGraph, get_path

CSR = "tls:index/certRequest:CertRequest"
FILE = "stacks/prod.yaml"


@pytest.fixture
def rendered(render) -> RenderedGraph:
    graph = render([document()], outputs=fakes.all_outputs())
    assert_valid(graph)
    return graph


def pod_specs(graph: RenderedGraph) -> dict[str, dict[str, Any]]:
    """Every pod template's spec the stack writes, by workload name."""
    pods = {
        w.name: w.inputs["spec"]["template"]["spec"]
        for w in [*written(graph, STS), *written(graph, DEPLOYMENT)]
    }
    for cronjob in graph.of_type(CRONJOB):
        pods[cronjob.name] = get_path(cronjob.inputs, "spec.jobTemplate.spec.template.spec")
    return pods


def images(pod: dict[str, Any]) -> list[str]:
    return [c["image"] for c in [*pod.get("initContainers", []), *pod["containers"]]]


def test_every_image_comes_from_the_registry_with_the_pull_secrets(render):
    spec = {
        "imageRegistry": "registry.corp.com:5000/mirror",
        "imagePullSecrets": ["corp-registry", "backup-registry"],
        "logRotation": {"enabled": True},
    }
    graph = render([document(spec)], outputs=fakes.all_outputs())
    assert_valid(graph)
    pods = pod_specs(graph)
    assert set(pods) == {
        "siem-indexer",
        "siem-manager-master",
        "siem-manager-worker",
        "siem-dashboard",
        "siem-log-rotation",
    }
    every = {image for pod in pods.values() for image in images(pod)}
    assert every == {
        "registry.corp.com:5000/mirror/wazuh/wazuh-indexer:4.14.6",
        "registry.corp.com:5000/mirror/busybox:1.37",  # the init containers too
        "registry.corp.com:5000/mirror/wazuh/wazuh-manager:4.14.6",
        "registry.corp.com:5000/mirror/wazuh/wazuh-dashboard:4.14.6",
        "registry.corp.com:5000/mirror/alpine/k8s:1.33.4",
    }
    for name, pod in pods.items():
        assert pod["imagePullSecrets"] == [{"name": "corp-registry"}, {"name": "backup-registry"}], name


def test_without_a_registry_images_come_from_docker_hub_and_pods_name_no_pull_secret(rendered):
    pods = pod_specs(rendered)
    assert images(pods["siem-indexer"]) == ["busybox:1.37", "busybox:1.37", "wazuh/wazuh-indexer:4.14.6"]
    assert all("imagePullSecrets" not in pod for pod in pods.values())


def test_an_image_that_names_its_registry_is_not_prefixed(render):
    spec = {
        "imageRegistry": "registry.corp.com/mirror",
        "logRotation": {"enabled": True, "image": "quay.io/tools/kubectl:1.33"},
    }
    [cronjob] = render([document(spec)]).of_type(CRONJOB)
    pod = get_path(cronjob.inputs, "spec.jobTemplate.spec.template.spec")
    assert images(pod) == ["quay.io/tools/kubectl:1.33"]


def test_the_cluster_domain_is_in_every_pod_dns_name(render):
    graph = render([document({"clusterDomain": "corp.internal"})], outputs=fakes.all_outputs())
    assert_valid(graph)
    node = graph.input("siem-node-csr", "dnsNames", CSR)
    assert "siem-indexer-0.siem-indexer.security.svc.corp.internal" in node
    master = graph.input("siem-master-csr", "dnsNames", CSR)
    assert "siem-manager-master-0.siem-manager-cluster.security.svc.corp.internal" in master
    env = graph.input("siem-dashboard", "spec.template.spec.containers[0].env", DEPLOYMENT)
    api = next(e["value"] for e in env if e["name"] == "WAZUH_API_URL")
    assert api == "https://siem-manager-master-0.siem-manager-cluster.security.svc.corp.internal"
    conf = graph.input("siem-manager-conf", "data", "kubernetes:core/v1:ConfigMap")
    for file in ("master.conf", "worker.conf"):
        assert "siem-manager-master-0.siem-manager-cluster.security.svc.corp.internal" in conf[file]
    everything = str([r.inputs for r in graph.resources])
    assert "cluster.local" not in everything


def test_extra_sans_go_into_the_manager_and_dashboard_certificates_only(render):
    sans = ["siem.corp.com", "*.agents.corp.com"]
    graph = render([document({"extraSANs": sans})], outputs=fakes.all_outputs())
    assert_valid(graph)
    for csr in ("siem-master-csr", "siem-worker-csr", "siem-dashboard-csr"):
        assert graph.input(csr, "dnsNames", CSR)[-2:] == sans, csr
    for csr in ("siem-node-csr", "siem-admin-csr", "siem-filebeat-csr"):
        assert not set(sans) & set(graph.named(csr, CSR).inputs.get("dnsNames") or []), csr


def java_options(graph: RenderedGraph) -> str:
    env = graph.input("siem-indexer", "spec.template.spec.containers[0].env", STS)
    return next(e["value"] for e in env if e["name"] == "OPENSEARCH_JAVA_OPTS")


@pytest.mark.parametrize(
    ("indexer", "heap"),
    [
        ({}, "782m"),  # half of upstream's 1564Mi limit
        ({"resources": {"limits": {"memory": "4Gi"}}}, "2g"),
        ({"resources": {"requests": {"memory": "3Gi"}}}, "1536m"),  # no limit: half the request
        ({"resources": {"limits": {"cpu": "2"}}}, "1g"),  # no memory figure at all: upstream's 1g
        ({"resources": {"limits": {"memory": "96Gi"}}}, "31g"),  # compressed pointers stop above
        ({"resources": {"limits": {"memory": "8Gi"}}, "javaHeap": "5g"}, "5g"),
    ],
)
def test_the_heap_follows_the_memory_limit_unless_given(render, indexer, heap):
    graph = render([document({"indexer": indexer})])
    assert_valid(graph)
    assert java_options(graph) == f"-Xms{heap} -Xmx{heap} -Dlog4j2.formatMsgNoLookups=true"


def test_secret_files_are_mounted_owner_only(rendered):
    pods = pod_specs(rendered)
    modes = {
        (name, volume["secret"]["secretName"]): volume["secret"].get("defaultMode")
        for name, pod in pods.items()
        for volume in pod.get("volumes", [])
        if "secret" in volume
    }
    for (workload, secret), mode in modes.items():
        if workload != "siem-dashboard":
            assert mode == 0o600, (workload, secret)
    assert ("siem-indexer", "siem-indexer-certs") in modes
    assert ("siem-manager-master", "siem-authd-pass") in modes
    # the indexer runs as group 1000, which reads them through the pod's fsGroup
    assert pods["siem-indexer"]["securityContext"]["fsGroup"] == 1000


def stack(spec: str) -> str:
    return f"kind: WazuhCluster\nmetadata:\n  name: siem\n  namespace: security\nspec:\n{spec}\n"


@pytest.mark.parametrize(
    ("spec", "line", "path", "message"),
    [
        ("  imageRegistry: registry.corp.com/", 6, "spec.imageRegistry", "not an image registry prefix"),
        ("  imageRegistry: Registry.corp.com", 6, "spec.imageRegistry", "not an image registry prefix"),
        ("  imageRegistry: reg.io/mirror:1.0", 6, "spec.imageRegistry", "no tag"),
        ("  imagePullSecrets: [Corp_Registry]", 6, "spec.imagePullSecrets[0]", "DNS-1123"),
        ("  clusterDomain: cluster..local", 6, "spec.clusterDomain", "DNS-1123"),
        ("  extraSANs: [siem.corp.com, 'https://siem']", 6, "spec.extraSANs[1]", "not a DNS name"),
        ("  indexer:\n    javaHeap: 2 GB", 7, "spec.indexer.javaHeap", "not a JVM heap size"),
        (
            "  indexer:\n    resources: {limits: {memory: 4Gi}}\n    javaHeap: 3500m",
            8,
            "spec.indexer.javaHeap",
            "3500m is more than 75% of the indexer's memory limit 4Gi (at most 3g)",
        ),
        (
            "  indexer:\n    javaHeap: 2g",
            7,
            "spec.indexer.javaHeap",
            "more than 75% of the indexer's memory limit 1564Mi",
        ),
    ],
)
def test_bad_settings_are_rejected_with_file_line_and_field(spec, line, path, message):
    with pytest.raises(StackFileError) as caught:
        load_stack_text(stack(spec), FILE)
    [error] = caught.value.errors
    assert (error.file, error.line, error.path) == (FILE, line, path)
    assert message in error.message
