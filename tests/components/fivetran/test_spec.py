"""Bad FivetranConnector documents are rejected whole, each error naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.common.vault import find_references
from components.documents import StackFileError, load_stack_text
from components.fivetran.spec import FivetranConnectorSpec

VALID_SPEC = """\
  groupId: decent_dropsy
  service: salesforce
  destinationSchema:
    name: salesforce
"""

SDK_SPEC = """\
  groupId: decent_dropsy
  service: connector_sdk
  destinationSchema:
    name: virtuous
  package: virtuous
"""

GOOD_NEIGHBOUR = """\
kind: FivetranConnector
metadata: {name: fine}
spec:
  groupId: decent_dropsy
  service: hubspot
  destinationSchema: {name: hubspot}
---
"""


def stack(spec_text: str) -> str:
    return f"{GOOD_NEIGHBOUR}kind: FivetranConnector\nmetadata: {{name: bad}}\nspec:\n{spec_text}"


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


BAD_INPUTS = [
    pytest.param(
        VALID_SPEC + "  schemaConfig:\n    changeHandling: ALLOW_SOME\n",
        "changeHandling:",
        "spec.schemaConfig.changeHandling",
        "ALLOW_ALL",
        id="unknown-change-handling",
    ),
    pytest.param(
        VALID_SPEC + "  schedule:\n    syncFrequency: 45\n",
        "syncFrequency:",
        "spec.schedule.syncFrequency",
        "1440",
        id="disallowed-sync-frequency",
    ),
    pytest.param(
        VALID_SPEC + "  schedule:\n    syncFrequency: 360\n    dailySyncTime: '03:00'\n",
        "dailySyncTime:",
        "spec.schedule.dailySyncTime",
        "only allowed with syncFrequency 1440",
        id="daily-sync-time-without-1440",
    ),
    pytest.param(
        VALID_SPEC + "  schedule:\n    syncFrequency: 1440\n    dailySyncTime: '03:30'\n",
        "dailySyncTime:",
        "spec.schedule.dailySyncTime",
        "whole hour",
        id="daily-sync-time-not-on-the-hour",
    ),
    pytest.param(
        VALID_SPEC + "  auth:\n    password: vault://kv/fivetran/salesforce\n",
        "auth:",
        "spec.auth",
        "password: 'vault://kv/fivetran/salesforce' is not a Vault reference",
        id="malformed-vault-reference-in-auth",
    ),
    pytest.param(
        VALID_SPEC + "  config:\n    hosts: [db1, 'vault://kv#key']\n",
        "config:",
        "spec.config",
        "hosts.1:",
        id="malformed-vault-reference-in-a-config-list",
    ),
    pytest.param(
        "  groupId: decent_dropsy\n  service: ''\n  destinationSchema: {name: s}\n",
        "service:",
        "spec.service",
        "must not be empty",
        id="empty-service",
    ),
    pytest.param(
        "  groupId: '  '\n  service: salesforce\n  destinationSchema: {name: s}\n",
        "groupId:",
        "spec.groupId",
        "must not be empty",
        id="blank-group-id",
    ),
    pytest.param(
        "  groupId: decent_dropsy\n  service: Sales Force\n  destinationSchema: {name: s}\n",
        "service:",
        "spec.service",
        "not a Fivetran service id",
        id="service-not-an-id",
    ),
    pytest.param(
        VALID_SPEC + "  package: my_connector\n",
        "package:",
        "spec.package",
        "only allowed with service 'connector_sdk'",
        id="package-without-connector-sdk",
    ),
    pytest.param(
        SDK_SPEC.replace("package: virtuous", "package: ../secrets"),
        "package:",
        "spec.package",
        "is not a connector folder under connectors/",
        id="package-outside-connectors",
    ),
    pytest.param(
        SDK_SPEC.replace("  package: virtuous\n", ""),
        "spec:",
        "spec",
        "service 'connector_sdk' needs package",
        id="connector-sdk-without-package",
    ),
    pytest.param(
        SDK_SPEC
        + "  config:\n    bearer_token: vault://kv/fivetran/virtuous#token\n    parallel_requests: 8\n",
        "config:",
        "spec.config",
        "parallel_requests: a connector_sdk configuration value must be a string",
        id="connector-sdk-config-not-a-string",
    ),
    pytest.param(
        SDK_SPEC + "  auth:\n    api_key: vault://kv/fivetran/virtuous#token\n",
        "auth:",
        "spec.auth",
        "a connector_sdk connection has no auth",
        id="connector-sdk-with-auth",
    ),
    pytest.param(
        SDK_SPEC + "  pythonVersion: '3.10'\n",
        "pythonVersion:",
        "spec.pythonVersion",
        "3.11 or later",
        id="python-too-old-for-the-connectors",
    ),
    pytest.param(
        VALID_SPEC + "  pythonVersion: '3.12'\n",
        "pythonVersion:",
        "spec.pythonVersion",
        "only allowed with service 'connector_sdk'",
        id="python-version-without-connector-sdk",
    ),
    pytest.param(
        SDK_SPEC.replace("name: virtuous", "prefix: virtuous"),
        "spec:",
        "spec",
        "set destinationSchema.name only",
        id="connector-sdk-with-a-schema-prefix",
    ),
    pytest.param(
        "  groupId: g\n  service: salesforce\n  destinationSchema:\n    name: a\n    prefix: b\n",
        "destinationSchema:",
        "spec.destinationSchema",
        "not both",
        id="destination-schema-name-and-prefix",
    ),
    pytest.param(
        "  groupId: g\n  service: salesforce\n",
        "spec:",
        "spec.destinationSchema",
        "required field is missing",
        id="destination-schema-missing",
    ),
    pytest.param(
        VALID_SPEC
        + "  schemaConfig:\n    schemas:\n      s:\n        tables:\n          t: {syncMode: FULL}\n",
        "t: {syncMode",
        "spec.schemaConfig.schemas.s.tables.t.syncMode",
        "HISTORY",
        id="unknown-sync-mode",
    ),
    pytest.param(
        VALID_SPEC + "  schemaConfig:\n    validationLevel: ALL\n",
        "validationLevel:",
        "spec.schemaConfig.validationLevel",
        "TABLES",
        id="unknown-validation-level",
    ),
]


@pytest.mark.parametrize(("spec_text", "needle", "field", "fragment"), BAD_INPUTS)
def test_bad_input_is_rejected_with_file_line_and_field(spec_text, needle, field, fragment):
    text = stack(spec_text)
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "stacks/dev.yaml")
    errors = [str(e) for e in caught.value.errors]
    bad_start = line_of(text, "name: bad")
    expected_line = line_of("\n".join(text.splitlines()[bad_start:]), needle) + bad_start
    prefix = f"stacks/dev.yaml:{expected_line}: FivetranConnector/bad: {field}: "
    assert [e for e in errors if e.startswith(prefix) and fragment in e], errors


@pytest.mark.parametrize(("spec_text", "needle", "field", "fragment"), BAD_INPUTS[:5])
def test_a_bad_document_renders_nothing_for_the_stack(
    render, tmp_path: Path, spec_text, needle, field, fragment
):
    path = tmp_path / "dev.yaml"
    path.write_text(stack(spec_text), encoding="utf-8")
    graph = render(path)
    assert graph.resources == []
    assert any(field in problem and fragment in problem for problem in graph.problems), graph.problems


def test_full_spec_is_accepted_with_defaults_from_the_contract():
    spec = FivetranConnectorSpec.model_validate(
        {
            "groupId": "decent_dropsy",
            "service": "connector_sdk",
            "destinationSchema": {"name": "orders"},
            "package": "connectors/orders_api/",
            "config": {"base_url": "https://api", "token": "vault://kv/team/orders-api#token"},
            "schedule": {"dailySyncTime": None},
            "schemaConfig": {"schemas": {"orders": {"tables": {"order": {"columns": {"email": {}}}}}}},
        }
    )
    assert spec.package == "orders_api"  # "a folder under connectors/": its path or just its name
    assert spec.sdk_python_version == "3.11"
    assert spec.run_setup_tests is False
    assert spec.trust_certificates is False
    assert spec.trust_fingerprints is False
    assert spec.paused is False
    assert spec.auth == {}
    assert spec.schedule is not None
    assert spec.schedule.sync_frequency == 360
    assert spec.schema_config is not None
    assert spec.schema_config.change_handling == "ALLOW_ALL"
    column = spec.schema_config.schemas["orders"].tables["order"].columns["email"]
    assert (column.enabled, column.hashed) == (True, False)


@pytest.mark.parametrize("frequency", [1, 5, 15, 30, 60, 120, 180, 360, 480, 720, 1440])
def test_every_fivetran_sync_frequency_is_accepted(frequency):
    spec = FivetranConnectorSpec.model_validate(
        {
            "groupId": "g",
            "service": "s",
            "destinationSchema": {"prefix": "p"},
            "schedule": {"syncFrequency": frequency},
        }
    )
    assert spec.schedule is not None
    assert spec.schedule.sync_frequency == frequency


def test_references_stay_in_the_dumped_spec_for_the_daemon_to_watch():
    spec = FivetranConnectorSpec.model_validate(
        {
            "groupId": "g",
            "service": "s",
            "destinationSchema": {"name": "n"},
            "auth": {"nested": {"key": "vault://kv/a/b#c"}},
        }
    )
    assert [str(r) for r in find_references(spec.model_dump(by_alias=True))] == ["vault://kv/a/b#c"]
