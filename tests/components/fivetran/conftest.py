"""Realistic provider answers for FivetranConnector renders: a Vault secret and Fivetran's own view."""

from __future__ import annotations

from typing import Any

import pytest

VAULT_READ = "vault:kv/getSecretV2:getSecretV2"
GET_CONNECTION = "fivetran:index/getConnection:getConnection"


def vault_answer(secrets: dict[str, dict[str, str]]):
    """Answer KV v2 reads from ``{"<mount>/<path>": {key: value}}``; an unknown path has no data."""

    def answer(call: Any) -> dict[str, Any]:
        return {"data": secrets.get(f"{call.args['mount']}/{call.args['name']}")}

    return answer


def connection_answer(setup_state: str, warnings: list[dict[str, str]] | None = None):
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
                "tasks": [],
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
