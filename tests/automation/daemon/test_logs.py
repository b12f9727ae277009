"""Structured logs: one parseable event per line, and no secret ever written."""

from __future__ import annotations

import io
import json
import logging

import pytest

from automation.daemon.logs import EventLog, Redactor, configure_logging, secrets_from_environment

PASSPHRASE = "correct-horse-battery-staple"
VAULT_TOKEN = "hvs.CAESIJq0mOmTpK0wz"


@pytest.fixture
def captured():
    logger = logging.getLogger("driftless")
    level = logger.level
    stream = io.StringIO()
    handler = configure_logging("json", stream=stream, redactor=Redactor([PASSPHRASE, VAULT_TOKEN]))
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_events_are_json_lines_with_their_fields(captured):
    EventLog().info("operation.finished", stack="dev", kind="up", create=3)

    (event,) = lines(captured)
    assert event["event"] == "operation.finished"
    assert event["level"] == "info"
    assert (event["stack"], event["kind"], event["create"]) == ("dev", "up", 3)
    assert event["ts"].endswith("Z")


def test_secret_values_are_redacted_wherever_they_appear(captured):
    EventLog().error(
        "operation.finished",
        message=f"error: decrypting with passphrase {PASSPHRASE} failed",
        detail={"env": f"VAULT_TOKEN={VAULT_TOKEN}"},
        items=[f"x {VAULT_TOKEN}"],
        vault_token="anything",
    )

    text = captured.getvalue()
    assert PASSPHRASE not in text
    assert VAULT_TOKEN not in text
    (event,) = lines(captured)
    assert event["vault_token"] == "[secret]"
    assert event["message"] == "error: decrypting with passphrase [secret] failed"


def test_other_loggers_under_driftless_are_redacted_too(captured):
    logging.getLogger("driftless.sources.git").warning("poll failed with token %s", VAULT_TOKEN)

    assert VAULT_TOKEN not in captured.getvalue()


def test_key_value_format_quotes_what_needs_quoting():
    stream = io.StringIO()
    handler = configure_logging("kv", stream=stream, redactor=Redactor())
    try:
        EventLog().info("stack.decided", stack="dev", detail="up (Initial): 3 to create")
    finally:
        logging.getLogger("driftless").removeHandler(handler)

    line = stream.getvalue().strip()
    assert " event=stack.decided stack=dev " in line
    assert line.endswith('detail="up (Initial): 3 to create"')


def test_secrets_are_taken_from_secret_looking_environment_variables():
    found = secrets_from_environment(
        {"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "VAULT_TOKEN": VAULT_TOKEN, "HOME": "/root", "API_KEY": "ab"}
    )
    assert sorted(found) == sorted([PASSPHRASE, VAULT_TOKEN])  # "ab" is too short to redact safely


def test_credentials_by_name_and_in_urls_are_masked_at_any_depth(captured):
    EventLog().warning(
        "git.poll_failed",
        repository="https://bot:PLANTED-PW-1@git.example.com/x.git?private_token=PLANTED-TOK-2&ref=main",
        detail={"connector": {"secret_key": "PLANTED-S3-3", "bucket": "acme"}},
        problems=[{"name": "API_TOKEN", "value": "PLANTED-ENV-4"}],
        message='config was {"bearer_token": "PLANTED-JSON-5"}',
        secretName="harbor-push-credentials",
        tokenUrl="https://sso.example.com/token",
    )

    text = captured.getvalue()
    assert "PLANTED" not in text
    (event,) = lines(captured)
    assert event["repository"] == "https://[secret]@git.example.com/x.git?private_token=[secret]&ref=main"
    assert event["detail"] == {"connector": {"secret_key": "[secret]", "bucket": "acme"}}
    assert event["problems"] == [{"name": "API_TOKEN", "value": "[secret]"}]
    assert event["message"] == 'config was {"bearer_token": "[secret]"}'
    # names of secrets and where tokens come from are not secrets
    assert event["secretName"] == "harbor-push-credentials"
    assert event["tokenUrl"] == "https://sso.example.com/token"


def test_paths_to_secret_files_in_the_environment_are_not_taken_for_secrets():
    found = secrets_from_environment(
        {
            "PULUMI_CONFIG_PASSPHRASE_FILE": "/run/secrets/passphrase",
            "GIT_CONFIG_KEY_0": "url.file:///srv/git/.insteadOf",
            "FIVETRAN_APISECRET": "fivetran-api-secret-value",
        }
    )
    assert found == ["fivetran-api-secret-value"]
