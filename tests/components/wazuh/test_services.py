"""spec.manager.service and spec.dashboard.service: agents and users reach the cluster from outside."""

from __future__ import annotations

import pytest

from components.documents import StackFileError, load_stack_text
from tests.components.wazuh import fakes
from tests.components.wazuh.test_component import assert_valid, document

SERVICE = "kubernetes:core/v1:Service"
FILE = "stacks/prod.yaml"


def service(graph, name: str) -> dict:
    return graph.named(name, SERVICE).inputs


def test_agents_registration_api_and_dashboard_are_load_balanced_by_default(render):
    graph = render([document()], outputs=fakes.all_outputs())
    assert_valid(graph)
    ports = {}
    for name in ("siem-manager", "siem-manager-workers", "siem-dashboard"):
        inputs = service(graph, name)
        assert inputs["spec"]["type"] == "LoadBalancer", name
        assert "loadBalancerSourceRanges" not in inputs["spec"], name
        ports[name] = {p["name"]: p["port"] for p in inputs["spec"]["ports"]}
    assert ports == {
        "siem-manager": {"registration": 1515, "api": 55000},
        "siem-manager-workers": {"agents-events": 1514},
        "siem-dashboard": {"dashboard": 443},
    }
    # the indexer and the cluster's own traffic stay inside
    assert service(graph, "siem-indexer-api")["spec"]["type"] == "ClusterIP"
    assert service(graph, "siem-manager-cluster")["spec"]["clusterIP"] == "None"


def test_the_service_blocks_set_type_annotations_ranges_and_node_ports(render):
    manager = {
        "type": "LoadBalancer",
        "annotations": {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"},
        "loadBalancerSourceRanges": ["10.0.0.0/8", "2001:db8::/32"],
        "nodePorts": {"agents-events": 31514, "registration": 31515},
    }
    dashboard = {"type": "NodePort", "nodePorts": {"dashboard": 30443}}
    graph = render(
        [document({"manager": {"service": manager}, "dashboard": {"service": dashboard}})],
        outputs=fakes.all_outputs(),
    )
    assert_valid(graph)
    for name in ("siem-manager", "siem-manager-workers"):
        inputs = service(graph, name)
        assert inputs["metadata"]["annotations"] == manager["annotations"], name
        assert inputs["spec"]["loadBalancerSourceRanges"] == ["10.0.0.0/8", "2001:db8::/32"], name
    node_ports = {
        name: {p["name"]: p.get("nodePort") for p in service(graph, name)["spec"]["ports"]}
        for name in ("siem-manager", "siem-manager-workers", "siem-dashboard")
    }
    assert node_ports == {
        "siem-manager": {"registration": 31515, "api": None},  # api: one the API server picks
        "siem-manager-workers": {"agents-events": 31514},
        "siem-dashboard": {"dashboard": 30443},
    }
    assert service(graph, "siem-dashboard")["spec"]["type"] == "NodePort"
    assert "annotations" not in service(graph, "siem-dashboard")["metadata"]


def test_cluster_ip_keeps_everything_inside(render):
    graph = render([document({"manager": {"service": {"type": "ClusterIP"}}})])
    assert_valid(graph)
    assert service(graph, "siem-manager")["spec"]["type"] == "ClusterIP"
    assert all("nodePort" not in p for p in service(graph, "siem-manager")["spec"]["ports"])


def stack(block: str) -> str:
    return f"""\
kind: WazuhCluster
metadata:
  name: siem
  namespace: security
spec:
  manager:
    service:
{block}
"""


@pytest.mark.parametrize(
    ("block", "line", "path", "message"),
    [
        ("      type: External", 8, "spec.manager.service.type", "'ClusterIP', 'NodePort' or 'LoadBalancer'"),
        (
            "      nodePorts: {agents-events: 1514}",
            8,
            "spec.manager.service.nodePorts",
            "agents-events: 1514 is outside the node port range 30000-32767",
        ),
        (
            "      nodePorts: {agents: 31514}",
            8,
            "spec.manager.service.nodePorts",
            "'agents' is not a port of this Service (ports: agents-events, registration, api)",
        ),
        (
            "      type: ClusterIP\n      nodePorts: {api: 30550}",
            9,
            "spec.manager.service.nodePorts",
            "a ClusterIP Service has no node ports",
        ),
        (
            "      nodePorts: {api: 30550, registration: 30550}",
            8,
            "spec.manager.service.nodePorts",
            "node port 30550 is given to two ports",
        ),
        (
            "      type: NodePort\n      loadBalancerSourceRanges: [10.0.0.0/8]",
            9,
            "spec.manager.service.loadBalancerSourceRanges",
            "only a LoadBalancer Service takes source ranges, this one is NodePort",
        ),
        (
            "      loadBalancerSourceRanges: [10.0.0.0/8, 10.1.2.3/16]",
            8,
            "spec.manager.service.loadBalancerSourceRanges[1]",
            "'10.1.2.3/16' is not a CIDR block",
        ),
        (
            "      loadBalancerSourceRanges: [office]",
            8,
            "spec.manager.service.loadBalancerSourceRanges[0]",
            "'office' is not a CIDR block",
        ),
        (
            "      annotations: {'bad key!': x}",
            8,
            "spec.manager.service.annotations",
            "'bad key!' is not an annotation key",
        ),
    ],
)
def test_bad_service_settings_are_rejected_with_file_line_and_field(block, line, path, message):
    with pytest.raises(StackFileError) as caught:
        load_stack_text(stack(block), FILE)
    [error] = caught.value.errors
    assert (error.file, error.line, error.path) == (FILE, line, path)
    assert message in error.message


def test_dashboard_node_ports_name_the_dashboard_port():
    text = stack("      type: LoadBalancer").replace(
        "  manager:\n    service:\n      type: LoadBalancer",
        "  dashboard:\n    service: {type: NodePort, nodePorts: {https: 30443}}",
    )
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, FILE)
    [error] = caught.value.errors
    assert (error.line, error.path) == (7, "spec.dashboard.service.nodePorts")
    assert "'https' is not a port of this Service (ports: dashboard)" in error.message
