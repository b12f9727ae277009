"""``import-fivetran`` against a loopback server speaking Fivetran's REST API wire format."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from automation.cli import main
from components.documents import load_stack_text

API_KEY = "key-Zq81"
API_SECRET = "secret-Pw93xx"
SOURCE_PASSWORD = "pg-password-never-printed"
GROUP = "decent_dropsy"


def connection(connection_id: str, service: str, schema: str, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": connection_id,
        "group_id": GROUP,
        "service": service,
        "service_version": 1,
        "schema": schema,
        "connected_by": "monitoring_assuring",
        "created_at": "2024-01-01T00:00:00.000000Z",
        "paused": False,
        "pause_after_trial": False,
        "sync_frequency": 360,
        "schedule_type": "auto",
        "status": {
            "setup_state": "connected",
            "sync_state": "scheduled",
            "update_state": "on_schedule",
            "is_historical_sync": False,
            "tasks": [],
            "warnings": [],
        },
    }
    item.update(fields)
    return item


@dataclass
class FakeFivetran:
    """``GET /v1/groups/{id}/connections`` in pages of ``limit``, linked by ``cursor``/``next_cursor``."""

    connections: dict[str, list[dict[str, Any]]]
    page_size: int = 2
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        parsed = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        self.requests.append({"path": parsed.path, "query": query})
        expected = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {expected}":
            return 401, {"code": "AuthFailed", "message": "Invalid API key or secret"}
        parts = parsed.path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["v1", "groups"] or parts[3] != "connections":
            return 404, {"code": "NotFound", "message": "No such endpoint"}
        group = urllib.parse.unquote(parts[2])
        if group not in self.connections:
            return 404, {"code": "NotFound_Group", "message": f"Group with id '{group}' doesn't exist"}
        items = self.connections[group]
        limit = min(int(query.get("limit", "100")), self.page_size)
        start = int(base64.b64decode(query["cursor"]).decode()) if "cursor" in query else 0
        page = items[start : start + limit]
        data: dict[str, Any] = {"items": page}
        if start + limit < len(items):
            data["next_cursor"] = base64.b64encode(str(start + limit).encode()).decode()
        return 200, {"code": "Success", "data": data}


@pytest.fixture
def fake() -> Iterator[FakeFivetran]:
    state = FakeFivetran(
        {
            GROUP: [
                connection("ok_salesforce", "salesforce", "salesforce", sync_frequency=60),
                connection(
                    "pg_adopt",
                    "postgres",
                    "pg",
                    config={"schema_prefix": "pg", "host": "db", "password": SOURCE_PASSWORD},
                    paused=True,
                ),
                connection(
                    "files_orders",
                    "s3",
                    "files.orders",
                    sync_frequency=1440,
                    daily_sync_time="03:00",
                ),
                connection("sdk_thing", "connector_sdk", "virtuous"),
                connection("managed_one", "hubspot", "hubspot"),
            ]
        }
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = state.answer(self)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    """A stack that already manages the hubspot connection (by its schema) and adopts nothing yet."""
    directory = tmp_path / "stacks"
    directory.mkdir()
    (directory / "dev.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "FivetranConnector",
                "metadata": {"name": "salesforce"},
                "spec": {"groupId": GROUP, "service": "hubspot", "destinationSchema": {"name": "hubspot"}},
            }
        ),
        encoding="utf-8",
    )
    return directory


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, *args: str, **env: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("FIVETRAN_API_URL", url)
    monkeypatch.setenv("FIVETRAN_API_KEY", env.get("key", API_KEY))
    monkeypatch.setenv("FIVETRAN_API_SECRET", env.get("secret", API_SECRET))
    code = main(["import-fivetran", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_a_document_per_unmanaged_connection_across_pages(fake, stacks_dir, monkeypatch, capsys):
    code, out, err = run(
        monkeypatch, capsys, fake.url, "--stack", "dev", "--group", GROUP, "--stacks-dir", str(stacks_dir)
    )
    assert code == 0, err
    # Five connections in pages of two: three requests, each after the previous one's cursor.
    assert [r["query"].get("cursor") is None for r in fake.requests] == [True, False, False]
    assert all(r["path"] == f"/v1/groups/{GROUP}/connections" for r in fake.requests)

    documents = {d["spec"]["connectionId"]: d for d in yaml.safe_load_all(out)}
    assert set(documents) == {"ok_salesforce", "pg_adopt", "files_orders"}
    salesforce = documents["ok_salesforce"]
    # The stack already has a document named "salesforce": the new one gets another name.
    assert salesforce["metadata"]["name"] == "salesforce-2"
    assert salesforce["spec"] == {
        "groupId": GROUP,
        "service": "salesforce",
        "connectionId": "ok_salesforce",
        "destinationSchema": {"name": "salesforce"},
        "paused": False,
        "schedule": {"syncFrequency": 60},
    }
    assert documents["pg_adopt"]["spec"]["destinationSchema"] == {"prefix": "pg"}
    assert documents["pg_adopt"]["spec"]["paused"] is True
    assert documents["files_orders"]["metadata"]["name"] == "files-orders"
    assert documents["files_orders"]["spec"]["destinationSchema"] == {"name": "files", "table": "orders"}
    assert documents["files_orders"]["spec"]["schedule"] == {"syncFrequency": 1440, "dailySyncTime": "03:00"}

    assert "skipped managed_one: its schema is already managed by FivetranConnector/salesforce" in err
    assert "skipped sdk_thing: a connector_sdk connection needs its package folder" in err

    # Pasted into the stack file, the documents load as they are.
    existing = (stacks_dir / "dev.yaml").read_text(encoding="utf-8")
    pasted = load_stack_text(existing + "---\n" + out, "dev.yaml")
    assert len(pasted.of_kind("FivetranConnector")) == 4


def test_no_secret_reaches_the_output(fake, stacks_dir, monkeypatch, capsys):
    code, out, err = run(
        monkeypatch, capsys, fake.url, "--stack", "dev", "--group", GROUP, "--stacks-dir", str(stacks_dir)
    )
    assert code == 0
    for secret in (SOURCE_PASSWORD, API_KEY, API_SECRET):
        assert secret not in out + err
    for document in yaml.safe_load_all(out):
        assert "config" not in document["spec"]
        assert "auth" not in document["spec"]


def test_connections_already_adopted_are_left_out(fake, tmp_path, monkeypatch, capsys):
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "prod.yaml").write_text(
        yaml.safe_dump(
            {
                "kind": "FivetranConnector",
                "metadata": {"name": "sf"},
                "spec": {
                    "groupId": GROUP,
                    "service": "salesforce",
                    "connectionId": "ok_salesforce",
                    "destinationSchema": {"name": "sf_other"},
                },
            }
        ),
        encoding="utf-8",
    )
    code, out, err = run(
        monkeypatch, capsys, fake.url, "--stack", "prod", "--group", GROUP, "--stacks-dir", str(stacks)
    )
    assert code == 0
    assert "ok_salesforce" not in out
    assert "skipped ok_salesforce: already adopted by FivetranConnector/sf" in err


def test_refused_credentials_are_a_clear_error_without_the_secret(fake, stacks_dir, monkeypatch, capsys):
    code, out, err = run(
        monkeypatch,
        capsys,
        fake.url,
        "--stack",
        "dev",
        "--group",
        GROUP,
        "--stacks-dir",
        str(stacks_dir),
        secret="wrong-secret-Xy",
    )
    assert code == 1
    assert out == ""
    assert err.startswith("error: Fivetran refused the API key (HTTP 401): Invalid API key or secret; ")
    assert "FIVETRAN_API_KEY" in err
    assert "wrong-secret-Xy" not in err
    assert API_KEY not in err


def test_an_unknown_group_is_named(fake, stacks_dir, monkeypatch, capsys):
    code, _out, err = run(
        monkeypatch, capsys, fake.url, "--stack", "dev", "--group", "no_such", "--stacks-dir", str(stacks_dir)
    )
    assert code == 1
    assert "Fivetran has no group 'no_such' (HTTP 404)" in err


def test_missing_credentials_are_named_before_any_request(fake, stacks_dir, monkeypatch, capsys):
    monkeypatch.setenv("FIVETRAN_API_URL", fake.url)
    monkeypatch.delenv("FIVETRAN_API_KEY", raising=False)
    monkeypatch.setenv("FIVETRAN_API_SECRET", API_SECRET)
    code = main(["import-fivetran", "--stack", "dev", "--group", GROUP, "--stacks-dir", str(stacks_dir)])
    err = capsys.readouterr().err
    assert code == 1
    assert "set FIVETRAN_API_KEY" in err
    assert fake.requests == []


def test_a_broken_stack_file_is_reported_not_guessed_around(fake, tmp_path, monkeypatch, capsys):
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "dev.yaml").write_text(
        "kind: FivetranConnector\nmetadata: {name: x}\nspec: {groupId: g, service: Bad}\n", encoding="utf-8"
    )
    code, _out, err = run(
        monkeypatch, capsys, fake.url, "--stack", "dev", "--group", GROUP, "--stacks-dir", str(stacks)
    )
    assert code == 1
    assert f"fix {stacks / 'dev.yaml'} first" in err
    assert "dev.yaml:3" in err
    assert fake.requests == []
