"""No credential written into a stack file is printed anywhere: render, diff, the daemon and its files.

Distinctive values are planted where users do put credentials by mistake (a FivetranConnector's
literal ``secret_key`` and ``bearer_token``, a token in a URL in its config, its ``auth``, a token in
a Project's git URL); then every command runs for real on a temporary project, and every byte they
print, log or write is searched for them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml

from automation.cli import main
from tests.automation.sources.stacks import kapsa

S3_SECRET = "PLANTED-S3-SECRET-7f3a"
AUTH_KEY = "PLANTED-AUTH-KEY-2b9e"
CONFIG_URL_TOKEN = "PLANTED-CONFIG-URL-TOKEN-61d4"
BEARER = "PLANTED-BEARER-TOKEN-c03a"
GIT_TOKEN = "PLANTED-GIT-TOKEN-8e51"
GIT_PASSWORD = "PLANTED-GIT-PASSWORD-d7c2"
MARKERS = (S3_SECRET, AUTH_KEY, CONFIG_URL_TOKEN, BEARER, GIT_TOKEN, GIT_PASSWORD)

CONFIG = "fivetran:index/connectionConfig:ConnectionConfig"


def fivetran_documents() -> list[dict]:
    return [
        {
            "kind": "FivetranConnector",
            "metadata": {"name": "events-s3"},
            "spec": {
                "groupId": "decent_dropsy",
                "service": "s3",
                "destinationSchema": {"name": "s3_events", "table": "events"},
                "config": {
                    "bucket": "acme-events",
                    "access_key_id": "AKIAEXAMPLE",
                    "secret_key": S3_SECRET,
                    "endpoint": f"https://s3.example.test/acme?access_token={CONFIG_URL_TOKEN}",
                },
                "auth": {"api_key": AUTH_KEY},
            },
        },
        {
            "kind": "FivetranConnector",
            "metadata": {"name": "virtuous"},
            "spec": {
                "groupId": "decent_dropsy",
                "service": "connector_sdk",
                "package": "virtuous",
                "destinationSchema": {"name": "virtuous"},
                "config": {"base_url": "https://api.virtuoussoftware.com", "bearer_token": BEARER},
            },
        },
    ]


def project_documents() -> list[dict]:
    documents = kapsa(url=f"https://git.example.test/acme/api.git?private_token={GIT_TOKEN}&ref=main")
    other = kapsa("web", url=f"https://bot:{GIT_PASSWORD}@git.example.test/acme/web.git")[-1]
    return [*documents, other]


@pytest.fixture
def planted(tmp_path: Path) -> dict[str, Path]:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "data.yaml").write_text(yaml.safe_dump_all(fivetran_documents(), sort_keys=False))
    (stacks / "apps.yaml").write_text(yaml.safe_dump_all(project_documents(), sort_keys=False))
    (tmp_path / "empty.yaml").write_text("---\n")
    return {"stacks": stacks, "state": tmp_path / "state", "root": tmp_path}


class Printed:
    """Everything the commands of one test printed or logged."""

    def __init__(self, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture):
        self._capsys, self._caplog = capsys, caplog
        self.texts: list[str] = []

    def run(self, *args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = self._capsys.readouterr()
        self.texts += [captured.out, captured.err]
        return code, captured.out, captured.err

    def leaks(self) -> list[str]:
        records = [
            f"{record.getMessage()} {record.__dict__.get('fields', '')} {record.exc_text or ''}"
            for record in self._caplog.records
        ]
        everything = "\n".join([*self.texts, *records])
        return [marker for marker in MARKERS if marker in everything]


def leaks_in_files(directory: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        content = path.read_bytes()
        hits = [marker for marker in MARKERS if marker.encode() in content]
        if hits:
            found[str(path.relative_to(directory))] = hits
    return found


def test_render_in_text_and_json_prints_no_planted_credential(planted, capsys, caplog):
    printed = Printed(capsys, caplog)
    data = str(planted["stacks"] / "data.yaml")

    code, out, _ = printed.run("render", "--file", data, "--format", "json")
    assert code == 0
    rendered = json.loads(out)
    configs = {r["name"]: r["inputs"] for r in rendered["resources"] if r["type"] == CONFIG}
    assert configs["events-s3-config"]["config"] == "[secret]"
    assert configs["events-s3-config"]["auth"] == "[secret]"
    assert configs["virtuous-config"]["config"] == "[secret]"

    code, out, _ = printed.run("render", "--file", data)
    assert code == 0
    assert "events-s3-config" in out

    code, _, err = printed.run("render", "--file", str(planted["stacks"] / "apps.yaml"), "--format", "json")
    assert code != 0
    assert (
        "spec.repo.url: 'https://git.example.test/acme/api.git?private_token=[secret]&ref=main' carries"
        in err
    )
    assert "spec.repo.url: 'https://[secret]@git.example.test/acme/web.git' carries credentials" in err
    printed.run("render", "--file", str(planted["stacks"] / "apps.yaml"))

    assert printed.leaks() == []


def test_the_review_diff_prints_no_planted_credential(planted, capsys, caplog):
    printed = Printed(capsys, caplog)
    renders = {}
    for name, stack_file in (
        ("old", planted["root"] / "empty.yaml"),
        ("new", planted["stacks"] / "data.yaml"),
    ):
        _, out, _ = printed.run("render", "--file", str(stack_file), "--format", "json")
        renders[name] = planted["root"] / f"{name}.json"
        renders[name].write_text(out)

    code, added, _ = printed.run("diff", str(renders["old"]), str(renders["new"]))
    assert code == 0
    assert "`fivetran:index/connectionConfig:ConnectionConfig` **events-s3-config**" in added
    printed.run("diff", str(renders["new"]), str(renders["old"]))
    printed.run("diff", str(renders["new"]), str(renders["new"]))

    assert printed.leaks() == []


def test_a_dry_run_of_the_daemon_prints_logs_and_writes_no_planted_credential(
    planted, capsys, caplog, monkeypatch: pytest.MonkeyPatch
):
    # Were a Project ever polled, git would fail at once on a local path instead of the network.
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{(planted['root'] / 'no-such-repo').as_uri()}/.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://git.example.test/")
    caplog.set_level(logging.DEBUG, logger="driftless")
    printed = Printed(capsys, caplog)
    dirs = ["--stacks-dir", str(planted["stacks"]), "--state-dir", str(planted["state"])]

    code, out, _ = printed.run("run", "--once", "--dry-run", "--poll-remotes", "--http-port", "0", *dirs)
    outcomes = dict(line.split(": ", 1) for line in out.strip().splitlines())
    assert outcomes["data"].startswith("reconciled"), outcomes
    assert outcomes["apps"].startswith(("stalled", "failed")), outcomes
    assert code == 1  # the apps stack is invalid
    printed.run("run", "--once", "--dry-run", "--poll-remotes", "--http-port", "0", *dirs)
    code, out, _ = printed.run("status", "--dry-run", "--format", "json", *dirs)
    assert {s["name"] for s in json.loads(out)["stacks"]} == {"apps", "data"}
    printed.run("status", "--dry-run", *dirs)

    assert printed.leaks() == []
    assert list((planted["state"] / "dry-run").rglob("last-render.json"))
    # The one exception is the daemon's verbatim copy of a stack file it validated: it is the input
    # the program reads (so Fivetran gets the credential), the stack file itself, not output.
    copies = planted["state"] / "dry-run" / "stack-files"
    for copy in copies.glob("*.yaml"):
        assert copy.read_bytes() == (planted["stacks"] / copy.name).read_bytes()
    leaks = leaks_in_files(planted["state"])
    assert {path for path in leaks if not path.startswith("dry-run/stack-files/")} == set(), leaks
