"""Realistic provider answers for FivetranConnector renders: a Vault secret, Fivetran's own view, an
uploaded connector package; and a throw-away connector folder to package."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import mocks

from automation.render.render import PROJECT_DIR
from automation.render.runtime import OfflineMocks
from components.common.archive import sha256_of

VAULT_READ = "vault:kv/getSecretV2:getSecretV2"
GET_CONNECTION = "fivetran:index/getConnection:getConnection"


def vault_answer(secrets: dict[str, dict[str, str]]):
    """Answer KV v2 reads from ``{"<mount>/<path>": {key: value}}``; an unknown path has no data."""

    def answer(call: Any) -> dict[str, Any]:
        return {"data": secrets.get(f"{call.args['mount']}/{call.args['name']}")}

    return answer


def connection_answer(
    setup_state: str,
    warnings: list[dict[str, str]] | None = None,
    tasks: list[dict[str, str]] | None = None,
):
    """What Fivetran reports for a connection after its setup tests."""

    def answer(call: Any) -> dict[str, Any]:
        return {
            "id": call.args["id"],
            "paused": False,
            "status": {
                "setupState": setup_state,
                "syncState": "scheduled",
                "updateState": "on_schedule",
                "isHistoricalSync": False,
                "tasks": tasks or [],
                "warnings": warnings or [],
            },
        }

    return answer


@pytest.fixture
def calls() -> dict[str, Any]:
    return {
        VAULT_READ: vault_answer({"kv/fivetran/salesforce": {"client_secret": "s3cr3t-from-vault"}}),
        GET_CONNECTION: connection_answer("connected"),
    }


# --- connector_sdk packages ----------------------------------------------------------------------

SDK_PACKAGE = "fivetran:index/connectorSdkPackage:ConnectorSdkPackage"
# Fivetran's package ids are two words, like its connection ids.
PACKAGE_ID = "distribute_panning"


class FivetranMocks(OfflineMocks):
    """OfflineMocks that give an uploaded package the id Fivetran would, and its file's SHA-256."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id, state = super().new_resource(args)
        if args.typ != SDK_PACKAGE:
            return resource_id, state
        # The provider reads file_path relative to its working directory: the project folder.
        state["fileSha256Hash"] = sha256_of(PROJECT_DIR / args.inputs["filePath"])
        state["createdAt"] = state["updatedAt"] = "2025-01-14T19:30:00Z"
        return PACKAGE_ID, state


@pytest.fixture
def sdk_mocks(calls: dict[str, Any]) -> FivetranMocks:
    return FivetranMocks(calls=calls)


@dataclass
class FakeConnectors:
    """A throw-away connectors folder: one connector (``name``) and the shared ``common/``."""

    root: Path
    name: str

    @property
    def folder(self) -> Path:
        return self.root / self.name

    @property
    def config(self) -> dict[str, str]:
        """Stack config that points the program at this folder."""
        return {"fivetranConnectorsDir": str(self.root)}

    def built_zips(self) -> list[Path]:
        """Every package of this connector the program wrote (one per version of its code)."""
        return sorted((PROJECT_DIR / ".driftless" / "packages").glob(f"{self.name}-*.zip"))


@pytest.fixture
def fake_connectors(tmp_path: Path) -> Iterator[FakeConnectors]:
    """A connector with a unique name (renders write its zip into the project's .driftless/packages,
    which other tests may use at the same time), removed again afterwards."""
    fake = FakeConnectors(tmp_path / "connectors", f"fake-{uuid.uuid4().hex[:12]}")
    fake.folder.mkdir(parents=True)
    (fake.folder / "connector.py").write_text("from common import util\n", encoding="utf-8")
    (fake.folder / "requirements.txt").write_text("", encoding="utf-8")
    (fake.root / "common").mkdir()
    (fake.root / "common" / "util.py").write_text("RETRIES = 3\n", encoding="utf-8")
    yield fake
    for built in fake.built_zips():
        built.unlink(missing_ok=True)
