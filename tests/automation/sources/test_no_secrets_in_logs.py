"""No secret ever reaches the logs: Vault tokens, registry passwords, credentials in git URLs."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hvac
import pytest

from automation.observation_store import ObservationStore
from automation.sources.git import GitClient, GitSource
from automation.sources.registry import RegistrySource
from automation.sources.vault import VaultSource
from tests.automation.fake_apiserver import FakeApiserver
from tests.automation.sources.fakes import FakeRegistry, FakeVault
from tests.automation.sources.stacks import connector, kapsa, load

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
VAULT_TOKEN = "hvs.CAESIJ-never-in-a-log-9f8e7d"
PASSWORD = "registry-password-never-in-a-log"


def test_vault_tokens_and_registry_passwords_never_appear_in_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, hvac/requests/urllib3 included
    vault = FakeVault(VAULT_TOKEN)
    registry = FakeRegistry("robot", PASSWORD)
    try:
        vault.write("secret", "app/db")
        stacks = {
            "app": load(
                "app", [connector("c", "vault://secret/app/db#password"), *kapsa(server=registry.address)]
            )
        }
        store = ObservationStore(tmp_path / "o.json")

        good = VaultSource(stacks, store, client=hvac.Client(url=vault.url, token=VAULT_TOKEN))
        for minute in range(3):
            if minute == 1:
                vault.write("secret", "app/db")
            if minute == 2:
                vault.token = "something-else"  # the token is revoked: a 403 is logged
            good.poll(T0 + timedelta(minutes=minute))  # reads in the background...
            assert good.wait(timeout=30)
            good.poll(T0 + timedelta(minutes=minute))  # ...and logs as it applies the result

        apiserver = FakeApiserver("kube-token")
        environ = {"KUBECONFIG": str(apiserver.kubeconfig(tmp_path / "kubeconfig"))}
        for password in (PASSWORD, PASSWORD + "-wrong"):
            encoded = base64.b64encode(f"robot:{password}".encode()).decode()
            config = json.dumps({"auths": {registry.address: {"auth": encoded}}})
            apiserver.write_secret("default", "harbor-push", {".dockerconfigjson": config})
            insecure = load(
                "app",
                [
                    d | {"spec": {**d["spec"], "insecure": True}} if d["kind"] == "Registry" else d
                    for d in kapsa(server=registry.address)
                ],
            )
            checks = RegistrySource({"app": insecure}, store, project_dir=tmp_path, environ=environ)
            checks.poll(T0)  # reads the Secret and checks in the background...
            assert checks.wait(timeout=30)
            checks.poll(T0)  # ...and logs as it records the result
        apiserver.close()
        assert len(registry.requests) >= 3  # the checks really ran, with the password sent
    finally:
        vault.close()
        registry.close()

    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert "vault poll failed" in logged  # the failures were logged...
    assert "not verified" in logged
    for secret in (VAULT_TOKEN, PASSWORD, base64.b64encode(f"robot:{PASSWORD}".encode()).decode()):
        assert secret not in logged  # ...without the secrets


def test_credentials_in_a_repository_url_never_appear_in_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = "https://deploy:ghp_never-in-a-log@127.0.0.1:1/acme/api.git"
    stacks = {"app": load("app", kapsa(url="https://git.example.test/acme/api.git"))}
    client = GitClient(config={f"url.{url}.insteadOf": "https://git.example.test/acme/api.git"}, timeout=10)

    source = GitSource(stacks, ObservationStore(tmp_path / "o.json"), client=client)
    source.poll(T0)
    assert source.wait(timeout=30)  # the poll fails (nothing listens on port 1)
    source.close()

    assert "git poll failed" in caplog.text
    assert "ghp_never-in-a-log" not in caplog.text + "".join(str(r.__dict__) for r in caplog.records)
