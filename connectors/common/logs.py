"""Logging through the Fivetran SDK, with credentials redacted from every line.

Connectors log with the standard :mod:`logging` module (``logging.getLogger("connector.<name>")``).
:func:`setup_logging` sends those records, and the warnings of ``urllib3``/``requests``, to the
SDK's ``Logging`` (what the Fivetran dashboard shows) through a handler that carries a
:class:`RedactingFilter`. The filter rewrites each record before it is formatted: every value of
a credential key of the configuration (in its plain, URL-encoded and JSON-escaped forms) and
anything shaped like ``Authorization: Bearer ...`` or ``password=...`` becomes ``[redacted]``,
in the message, its arguments, and the traceback of a logged exception.

Why a filter and not care at each call site: a credential reaches a log line by accident (an
exception whose message quotes a request header, a URL with a token in it, a server that echoes
the request back in its error body). A filter on the one handler catches all of them.

:func:`redact` is also used for text that leaves the connector another way: error messages
written to the ``errors`` table and the exception that fails a sync (:func:`scrubbed_errors`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"

# Configuration keys whose values are credentials, by a word in the key's name. A connector adds
# its own (for example OnGage's ``x_username``) through ``secret_keys``.
SENSITIVE_KEY_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "private_key",
    "account_code",
)

# Shorter values are not redacted literally: they would blank out ordinary words of every line.
MIN_SECRET_LENGTH = 4

_KEY_NAMES = (
    r"authorization|proxy-authorization|bearer_token|access_token|refresh_token|api_key|apikey|x-api-key|"
    r"token|password|passwd|secret|client_secret|x_password|x_username|x_account_code|"
    # the signature of a pre-signed download URL (Azure SAS, S3), a credential while it is valid
    r"sig|x-amz-signature|x-amz-credential|x-amz-security-token"
)
# ``password=hunter2``, ``"x_password": "hunter2"``, ``Authorization: Bearer abc`` ...
_KEY_VALUE = re.compile(
    rf"""(?ix)
    (["']?\b(?:{_KEY_NAMES})\b["']?\s*[:=]\s*)   # the key and its separator
    (["']?)                                      # an opening quote, kept
    (?!\[redacted\])                              # already redacted: leave it (redacting twice is a no-op)
    (?:bearer\s+|basic\s+|token\s+)?             # an auth scheme, dropped with the value
    [^\s"'&,;}}\]]+                              # the value
    """
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")


def secrets_from(configuration: Mapping[str, object], secret_keys: Iterable[str] = ()) -> list[str]:
    """The credential values of ``configuration``: keys in ``secret_keys`` or with a sensitive word."""
    explicit = {key.lower() for key in secret_keys}
    found = []
    for key, value in configuration.items():
        name = str(key).lower()
        if not isinstance(value, str) or not value:
            continue
        if name in explicit or any(word in name for word in SENSITIVE_KEY_WORDS):
            found.append(value)
    return found


class Redactor:
    """Replaces credentials in text with ``[redacted]``: known secret values, and key/value shapes."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if len(secret) < MIN_SECRET_LENGTH:
                continue
            variants.update(
                {
                    secret,
                    quote(secret, safe=""),
                    quote_plus(secret),
                    json.dumps(secret)[1:-1],
                    repr(secret)[1:-1],
                }
            )
        # Longest first, so that a secret that contains another is replaced whole.
        self._literals = sorted(variants, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every credential replaced by ``[redacted]``; redacting twice changes nothing."""
        # Shapes first (they drop the auth scheme with the value), then the known values anywhere.
        text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
        text = _KEY_VALUE.sub(rf"\1\2{REDACTED}", text)
        text = _BEARER.sub(rf"\1 {REDACTED}", text)
        for literal in self._literals:
            if literal in text:
                text = text.replace(literal, REDACTED)
        return text


_active = Redactor()


def redact(text: str) -> str:
    """``text`` with the credentials of the configuration :func:`setup_logging` was given redacted."""
    return _active(text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback with credentials redacted; never drops a record."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._redactor = redactor

    def _redact(self, text: str) -> str:
        return (self._redactor or _active)(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: keep what can be shown
            message = f"{record.msg} {record.args}"
        record.msg = self._redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


class SdkLogHandler(logging.Handler):
    """Writes records through ``fivetran_connector_sdk.Logging``, so they appear in the Fivetran dashboard."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from fivetran_connector_sdk import (
                Logging,  # imported here: the primitives are tested without a runner
            )

            message = self.format(record)
            if Logging.LOG_LEVEL is None:  # not running under the SDK's runner
                sys.stderr.write(message + "\n")
                return
            if record.levelno >= logging.ERROR:
                # Older SDKs have only severe(); newer ones deprecate it in favour of error().
                (getattr(Logging, "error", None) or Logging.severe)(message)
            elif record.levelno >= logging.WARNING:
                Logging.warning(message)
            elif record.levelno >= logging.INFO:
                Logging.info(message)
            else:
                getattr(Logging, "debug", Logging.fine)(message)
        except Exception:  # noqa: BLE001 -- a logging failure must never fail the sync
            self.handleError(record)


_INSTALLED_MARK = "_connector_common_handler"
# The loggers whose records go to the SDK: ours, and the HTTP stack's warnings (a retried URL).
_LOGGER_LEVELS = {"connector": logging.INFO, "urllib3": logging.WARNING, "requests": logging.WARNING}


def setup_logging(
    configuration: Mapping[str, object],
    secret_keys: Iterable[str] = (),
    *,
    handler: logging.Handler | None = None,
    level: int = logging.INFO,
) -> Redactor:
    """Routes the ``connector`` logger (and urllib3/requests warnings) to the SDK with credentials redacted.

    Call it first in ``update()``; calling it again replaces what the earlier call installed.
    ``handler`` replaces the SDK handler (tests pass one that records lines). Returns the redactor.
    """
    global _active
    _active = Redactor(secrets_from(configuration, secret_keys))
    target = handler or SdkLogHandler()
    target.addFilter(RedactingFilter())
    setattr(target, _INSTALLED_MARK, True)
    for name, default_level in _LOGGER_LEVELS.items():
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, _INSTALLED_MARK, False)]:
            logger.removeHandler(old)
        logger.addHandler(target)
        logger.setLevel(level if name == "connector" else default_level)
        logger.propagate = False
    return _active


class SyncFailedError(RuntimeError):
    """The sync failed; the message (with the original traceback) has credentials redacted."""


@contextmanager
def scrubbed_errors() -> Iterator[None]:
    """Re-raises any exception as :class:`SyncFailedError` with credentials redacted from its text.

    The SDK prints the message and traceback of the exception that ends ``update()``; an
    exception raised by ``requests`` can quote a URL or header, so it must not leave as it is.
    """
    try:
        yield
    except SyncFailedError:
        raise
    except Exception as exc:  # noqa: BLE001 -- re-raised, redacted
        text = redact("".join(traceback.format_exception(exc)).rstrip())
        raise SyncFailedError(f"{type(exc).__name__}: {redact(str(exc))}\n{text}") from None
