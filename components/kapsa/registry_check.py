"""Check that a container registry accepts a set of credentials (the Registry's ``verified``).

The Docker Registry HTTP API v2 / OCI distribution handshake, with the standard library only:

1. ``GET /v2/`` without credentials. ``200``: the registry is open (nothing to verify).
   ``401`` with ``WWW-Authenticate``:
2. ``Basic realm=…``: ``GET /v2/`` again with HTTP Basic credentials.
   ``Bearer realm=…,service=…[,scope=…]``: ask the token service at ``realm`` for a token with
   HTTP Basic credentials (``?service=…&account=<user>``), then ``GET /v2/`` with
   ``Authorization: Bearer <token>``.
3. ``200`` means the credentials are good.

The daemon runs this (a program render must never touch the network) with credentials read
from the Registry's docker-registry Secret (:func:`credentials_from_docker_config`). Messages
never contain the password or a token.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT = 10.0
_USER_AGENT = "driftless-registry-check/1"
_CHALLENGE_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


@dataclass(frozen=True)
class RegistryVerification:
    """The outcome of one check: whether the credentials were accepted, and a message saying why."""

    verified: bool
    message: str


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` challenge."""

    scheme: str  # lowercase: "basic" | "bearer" | ...
    params: Mapping[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """Parse ``Bearer realm="…",service="…"`` (one challenge; the first if several)."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    for name, raw in _CHALLENGE_PARAM.findall(rest):
        value = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else raw
        params[name.lower()] = value
    return Challenge(scheme.lower(), params)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Credentials must never follow a redirect to another host; a registry answering /v2/ with a
    # redirect is reported as it is.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _get(url: str, authorization: str | None, timeout: float) -> _Response:
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": _USER_AGENT})
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return _Response(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return _Response(error.code, dict(error.headers.items()), error.read())


def verify_registry(
    server: str,
    username: str,
    password: str,
    *,
    scheme: str = "https",
    timeout: float = DEFAULT_TIMEOUT,
) -> RegistryVerification:
    """Whether ``server`` (``host[:port]``) accepts ``username``/``password``."""
    if scheme not in ("https", "http"):
        raise ValueError(f"scheme must be https or http, not {scheme!r}")
    endpoint = f"{scheme}://{server}/v2/"
    try:
        return _verify(endpoint, server, username, password, timeout)
    except (TimeoutError, urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        return RegistryVerification(False, f"cannot reach {endpoint}: {reason}")


def _verify(endpoint: str, server: str, username: str, password: str, timeout: float) -> RegistryVerification:
    first = _get(endpoint, None, timeout)
    if first.status == 200:
        return RegistryVerification(True, f"{server} answers without authentication; nothing to verify")
    if first.status != 401:
        return RegistryVerification(False, f"{endpoint} answered HTTP {first.status}, not a registry v2 API")
    challenge = parse_challenge(_header(first.headers, "WWW-Authenticate"))
    if challenge is None:
        return RegistryVerification(False, f"{endpoint} answered 401 without a WWW-Authenticate challenge")

    if challenge.scheme == "basic":
        second = _get(endpoint, _basic(username, password), timeout)
        return _judge(second, server, username, "basic authentication")

    if challenge.scheme == "bearer":
        realm = challenge.params.get("realm")
        if not realm:
            return RegistryVerification(False, f"{endpoint}: Bearer challenge without a realm")
        query = {"account": username}
        if "service" in challenge.params:
            query["service"] = challenge.params["service"]
        if "scope" in challenge.params:
            query["scope"] = challenge.params["scope"]
        separator = "&" if urllib.parse.urlsplit(realm).query else "?"
        token_url = realm + separator + urllib.parse.urlencode(query)
        answer = _get(token_url, _basic(username, password), timeout)
        if answer.status in (401, 403):
            return RegistryVerification(
                False, f"the token service of {server} rejected the credentials of {username!r}"
            )
        if answer.status != 200:
            return RegistryVerification(False, f"the token service of {server} answered HTTP {answer.status}")
        try:
            document = json.loads(answer.body or b"{}")
        except ValueError:
            return RegistryVerification(
                False, f"the token service of {server} answered something other than JSON"
            )
        token = (
            (document.get("token") or document.get("access_token")) if isinstance(document, dict) else None
        )
        if not isinstance(token, str) or not token:
            return RegistryVerification(False, f"the token service of {server} answered without a token")
        second = _get(endpoint, f"Bearer {token}", timeout)
        return _judge(second, server, username, "a bearer token")

    return RegistryVerification(False, f"{endpoint}: unsupported authentication scheme {challenge.scheme!r}")


def _judge(response: _Response, server: str, username: str, how: str) -> RegistryVerification:
    if response.status == 200:
        return RegistryVerification(True, f"{server} accepted the credentials of {username!r} ({how})")
    if response.status in (401, 403):
        return RegistryVerification(False, f"{server} rejected the credentials of {username!r} ({how})")
    return RegistryVerification(False, f"{server} answered HTTP {response.status} to {how}")


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), "")


def credentials_from_docker_config(
    config: str | bytes | Mapping[str, Any], server: str
) -> tuple[str, str] | None:
    """``(username, password)`` for ``server`` from a ``.dockerconfigjson`` document, or None.

    Entries may be keyed ``host``, ``host:port`` or a URL (``https://host/v1/``), and hold either
    ``username``/``password`` or ``auth`` (base64 of ``user:password``).
    """
    document = json.loads(config) if isinstance(config, str | bytes) else config
    auths = document.get("auths") if isinstance(document, Mapping) else None
    if not isinstance(auths, Mapping):
        return None
    for key, entry in auths.items():
        if _registry_host(str(key)) != server or not isinstance(entry, Mapping):
            continue
        username, password = entry.get("username"), entry.get("password")
        if isinstance(username, str) and isinstance(password, str):
            return username, password
        auth = entry.get("auth")
        if isinstance(auth, str):
            user, sep, secret = base64.b64decode(auth).decode("utf-8").partition(":")
            if sep:
                return user, secret
    return None


def _registry_host(key: str) -> str:
    if "://" in key:
        return urllib.parse.urlsplit(key).netloc
    return key.split("/", 1)[0]
