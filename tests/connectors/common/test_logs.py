"""Credentials never reach a log line: the redacting filter, the SDK handler setup, and failed syncs."""

from __future__ import annotations

import json
import logging

import pytest
from common.logs import (
    RedactingFilter,
    Redactor,
    SyncFailedError,
    scrubbed_errors,
    secrets_from,
    setup_logging,
)

CONFIGURATION = {
    "bearer_token": "tok-8c1f6b2e9a",
    "x_password": "p@ss word/&=1",
    "x_username": "ongage-admin",
    "base_url": "https://api.example.org",
    "parallel_requests": "8",
}


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def lines() -> Lines:
    handler = Lines()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    setup_logging(CONFIGURATION, ["x_username"], handler=handler)
    return handler


def test_secret_values_are_found_by_key_name_and_by_explicit_key() -> None:
    assert sorted(secrets_from(CONFIGURATION, ["x_username"])) == sorted(
        ["tok-8c1f6b2e9a", "p@ss word/&=1", "ongage-admin"]
    )
    assert "https://api.example.org" not in secrets_from(CONFIGURATION)


def test_a_secret_in_the_message_or_its_arguments_is_redacted(lines: Lines) -> None:
    log = logging.getLogger("connector.test")
    log.warning("calling with token %s", CONFIGURATION["bearer_token"])
    log.info("user %s logged in", "ongage-admin")
    assert lines.lines == [
        "WARNING connector.test calling with token [redacted]",
        "INFO connector.test user [redacted] logged in",
    ]


def test_encoded_forms_of_a_secret_are_redacted(lines: Lines) -> None:
    log = logging.getLogger("connector.test")
    password = CONFIGURATION["x_password"]
    log.info("form: p=%s", "p%40ss%20word%2F%26%3D1")
    log.info("json: %s", json.dumps({"pw": password}))
    log.info("plus: %s", "p%40ss+word%2F%26%3D1")
    assert all(password not in line and "word" not in line for line in lines.lines), lines.lines


def test_credential_shapes_are_redacted_even_when_the_value_is_unknown(lines: Lines) -> None:
    log = logging.getLogger("connector.test")
    log.info("headers: Authorization: Bearer abc.def.ghi")
    log.info('payload {"password": "other-secret", "take": 10}')
    log.info("url https://user:hunter2@example.org/x?api_key=zzz9&skip=0")
    log.info("GET https://files.example.net/e/1.csv?sv=2020-08-04&sig=Sas%2Bsig%3D77&se=2024 failed")
    log.info("GET https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA55/x&X-Amz-Signature=feed77 failed")
    joined = "\n".join(lines.lines)
    for leaked in ("abc.def.ghi", "other-secret", "hunter2", "zzz9", "Sas%2Bsig", "feed77", "AKIA55"):
        assert leaked not in joined
    assert '"take": 10' in joined
    assert "skip=0" in joined
    assert "sv=2020-08-04" in joined


def test_a_logged_exception_traceback_is_redacted(lines: Lines) -> None:
    log = logging.getLogger("connector.test")
    try:
        raise RuntimeError(f"request failed with header x_password={CONFIGURATION['x_password']}")
    except RuntimeError:
        log.exception("sync step failed")
    assert "Traceback" in lines.lines[0]
    assert CONFIGURATION["x_password"] not in lines.lines[0]


def test_http_library_warnings_go_through_the_same_filter(lines: Lines) -> None:
    logging.getLogger("urllib3.connectionpool").warning("Retrying after %s", "Bearer tok-8c1f6b2e9a")
    assert lines.lines == ["WARNING urllib3.connectionpool Retrying after Bearer [redacted]"]


def test_setting_up_twice_does_not_duplicate_lines(lines: Lines) -> None:
    setup_logging(CONFIGURATION, handler=lines)
    logging.getLogger("connector.test").info("once")
    assert lines.lines == ["INFO connector.test once"]


def test_text_without_credentials_is_left_alone() -> None:
    redactor = Redactor(["tok-8c1f6b2e9a"])
    text = "contacts: 1164 synced, last id 5829 (take 50); total_synced=3"
    assert redactor(text) == text


def test_redacting_twice_changes_nothing() -> None:
    redactor = Redactor(["tok-8c1f6b2e9a"])
    once = redactor("Authorization: Bearer tok-8c1f6b2e9a; password=tok-8c1f6b2e9a")
    assert redactor(once) == once == "Authorization: [redacted]; password=[redacted]"


def test_the_filter_never_drops_a_record() -> None:
    record = logging.LogRecord("connector", logging.INFO, __file__, 1, "bad format %d", ("x",), None)
    assert RedactingFilter(Redactor(["secret-value"])).filter(record) is True


def test_an_exception_that_fails_the_sync_is_redacted(lines: Lines) -> None:
    with pytest.raises(SyncFailedError) as caught, scrubbed_errors():
        raise ConnectionError(
            f"could not reach https://api.example.org?token={CONFIGURATION['bearer_token']}"
        )
    text = str(caught.value)
    assert "ConnectionError" in text
    assert "[redacted]" in text
    assert CONFIGURATION["bearer_token"] not in text
    assert caught.value.__suppress_context__  # the unredacted original is not printed after it
