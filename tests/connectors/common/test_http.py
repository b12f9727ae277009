"""One HTTP request: raw JSON back, or the error type the sync layer branches on, with the request described."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from common import http
from common.errors import (
    ConnectionFailedError,
    InvalidResponseError,
    PermanentError,
    RequestTimeoutError,
    ServerBusyError,
)
from common.logs import setup_logging

from tests.connectors.support import FakeApi, Recorded

SECRET = "sk-live-0123456789abcdef"


class Answers(FakeApi):
    def answer(self, request: Recorded) -> tuple[int, dict[str, str], Any]:
        path = request.path
        if path == "/ok":
            return 200, {}, {"list": [1, 2], "echo": request.body, "query": request.query}
        if path == "/limited":
            return 429, {"Retry-After": "3"}, {"message": "slow down"}
        if path == "/broken":
            return 500, {}, f"error; request had Authorization: Bearer {SECRET}"
        if path == "/missing":
            return 404, {}, {"message": "no such thing"}
        if path == "/html":
            return 200, {}, "<html>maintenance</html>"
        if path == "/slow":
            time.sleep(1.0)
            return 200, {}, {}
        return 404, {}, {}


@pytest.fixture
def server() -> Iterator[Answers]:
    setup_logging({"api_token": SECRET}, handler=logging.NullHandler())
    with Answers() as fake:
        yield fake


def test_json_comes_back_raw_with_params_and_body_sent(server: Answers) -> None:
    answer = http.request(
        requests.Session(),
        "POST",
        f"{server.url}/ok",
        params={"skip": 0, "take": 5},
        json_body={"a": 1},
        timeout=5,
    )
    assert answer == {"list": [1, 2], "echo": {"a": 1}, "query": {"skip": "0", "take": "5"}}


def test_a_rate_limit_is_transient_and_carries_retry_after(server: Answers) -> None:
    with pytest.raises(ServerBusyError) as caught:
        http.request(requests.Session(), "GET", f"{server.url}/limited", params={"x": 1}, timeout=5)
    assert caught.value.status == 429
    assert caught.value.retry_after == 3.0
    assert caught.value.url == f"{server.url}/limited?x=1"


def test_a_server_error_quotes_the_body_with_credentials_redacted(server: Answers) -> None:
    with pytest.raises(ServerBusyError) as caught:
        http.request(
            requests.Session(), "POST", f"{server.url}/broken", json_body={"b": 2, "a": 1}, timeout=5
        )
    assert SECRET not in str(caught.value)
    assert "HTTP 500" in str(caught.value)
    assert "[redacted]" in str(caught.value)
    assert caught.value.payload == '{"a":1,"b":2}'


def test_a_client_error_is_permanent(server: Answers) -> None:
    with pytest.raises(PermanentError) as caught:
        http.request(requests.Session(), "GET", f"{server.url}/missing", timeout=5)
    assert caught.value.status == 404


def test_a_body_that_is_not_json_is_an_invalid_response(server: Answers) -> None:
    with pytest.raises(InvalidResponseError):
        http.request(requests.Session(), "GET", f"{server.url}/html", timeout=5)
    assert http.request(requests.Session(), "GET", f"{server.url}/html", timeout=5, expect="text").startswith(
        "<html"
    )


def test_no_answer_in_time_is_a_request_timeout(server: Answers) -> None:
    with pytest.raises(RequestTimeoutError):
        http.request(requests.Session(), "GET", f"{server.url}/slow", timeout=0.2)


def test_a_refused_connection_is_transient() -> None:
    with pytest.raises(ConnectionFailedError):
        http.request(requests.Session(), "GET", "http://127.0.0.1:9/nothing", timeout=2)
