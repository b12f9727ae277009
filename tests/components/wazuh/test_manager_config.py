"""The managers' ossec.conf: upstream's full 4.14.6 configuration, plus spec.manager.extraConfig."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from components.documents import StackFileError, load_stack_text
from tests.components.wazuh import fakes
from tests.components.wazuh.test_component import STS, assert_valid, document
from tests.harness import RenderedGraph

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CSR = "tls:index/certRequest:CertRequest"
CONFIG_HASH = "driftless.dev/config-hash"
EXTRA = """\
<localfile>
  <log_format>json</log_format>
  <location>/var/log/suricata/eve.json</location>
</localfile>
<integration>
  <name>slack</name>
  <hook_url>https://hooks.slack.com/services/T000/B000/XXXX</hook_url>
  <level>10</level>
</integration>
"""


def blocks(graph: RenderedGraph, file: str) -> list[ET.Element]:
    """The ``<ossec_config>`` elements of one manager configuration file, in order."""
    text = graph.input("siem-manager-conf", "data", CONFIG_MAP)[file]
    return list(ET.fromstring(f"<file>{text}</file>"))


@pytest.fixture
def graph(render) -> RenderedGraph:
    graph = render([document()], outputs=fakes.all_outputs())
    assert_valid(graph)
    return graph


@pytest.mark.parametrize("file", ["master.conf", "worker.conf"])
def test_every_manager_runs_upstreams_monitoring_and_vulnerability_detection(graph, file):
    main, active_responses = blocks(graph, file)
    assert main.findtext("vulnerability-detection/enabled") == "yes"
    assert main.findtext("vulnerability-detection/index-status") == "yes"
    assert main.findtext("syscheck/disabled") == "no"
    assert main.findtext("rootcheck/disabled") == "no"
    assert main.findtext("sca/enabled") == "yes"
    syscollector = main.find("wodle[@name='syscollector']")
    assert syscollector is not None
    assert syscollector.findtext("disabled") == "no"
    commands = [c.findtext("log_format") for c in main.findall("localfile")]
    assert commands == ["command", "full_command", "full_command"]
    assert {c.findtext("name") for c in main.findall("command")} >= {
        "firewall-drop",
        "host-deny",
        "restart-ossec",
    }
    assert active_responses.findtext("localfile/location") == "/var/ossec/logs/active-responses.log"
    assert main.findtext("auth/force/enabled") == "yes"
    assert main.findtext("cluster/node_type") == file.removesuffix(".conf")


def test_the_indexer_connector_uses_a_name_and_files_that_exist(graph):
    [main, _] = blocks(graph, "master.conf")
    indexer = main.find("indexer")
    assert indexer is not None
    assert indexer.findtext("enabled") == "yes"
    host = indexer.findtext("hosts/host")
    assert host == "https://siem-indexer-api:9200"
    # the indexer's certificate names that host, so the connector can verify it
    assert "siem-indexer-api" in graph.input("siem-node-csr", "dnsNames", CSR)
    # and the CA, certificate and key it names are the files the manager pods mount
    files = {
        indexer.findtext("ssl/certificate_authorities/ca"),
        indexer.findtext("ssl/certificate"),
        indexer.findtext("ssl/key"),
    }
    assert files == {"/etc/ssl/root-ca.pem", "/etc/ssl/filebeat.pem", "/etc/ssl/filebeat.key"}
    for workload in ("siem-manager-master", "siem-manager-worker"):
        mounts = graph.input(workload, "spec.template.spec.containers[0].volumeMounts", STS)
        assert files <= {m["mountPath"] for m in mounts}, workload


def test_extra_config_is_one_more_block_on_every_manager_and_rolls_them(render, graph):
    extra = render([document({"manager": {"extraConfig": EXTRA}})], outputs=fakes.all_outputs())
    assert_valid(extra)
    for file in ("master.conf", "worker.conf"):
        *upstream, appended = blocks(extra, file)
        assert len(upstream) == 2, file
        assert appended.findtext("localfile/location") == "/var/log/suricata/eve.json"
        assert appended.findtext("integration/name") == "slack"

    def config_hash(g: RenderedGraph, name: str) -> str:
        return g.input(name, "spec.template.metadata.annotations", STS)[CONFIG_HASH]

    for name in ("siem-manager-master", "siem-manager-worker"):
        assert config_hash(graph, name) != config_hash(extra, name), name
    assert config_hash(graph, "siem-indexer") == config_hash(extra, "siem-indexer")


def stack(extra: str) -> str:
    indented = "\n".join(f"      {line}" for line in extra.splitlines())
    return f"""\
kind: WazuhCluster
metadata:
  name: siem
  namespace: security
spec:
  manager:
    extraConfig: |
{indented}
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "<localfile>\n  <location>/var/log/x.log</locaton>\n</localfile>",
            "is not well-formed XML (mismatched tag) at line 2, column 29 of the fragment",
        ),
        ("<localfile>\n  <location>/var/log/x.log</location>", "at its end (an element left open?)"),
        ("<ossec_config>\n  <localfile/>\n</ossec_config>", "give the blocks that go inside <ossec_config>"),
        ('<!DOCTYPE x [<!ENTITY a "b">]>\n<localfile/>', "must not declare a DOCTYPE or entities"),
    ],
)
def test_bad_extra_config_is_rejected_with_file_line_and_field(extra, message):
    with pytest.raises(StackFileError) as caught:
        load_stack_text(stack(extra), "stacks/prod.yaml")
    [error] = caught.value.errors
    assert (error.file, error.line, error.path) == ("stacks/prod.yaml", 7, "spec.manager.extraConfig")
    assert message in error.message
