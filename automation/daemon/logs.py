"""Structured logs: one event per line, ``key=value`` (default) or JSON lines.

Every line passes through a redactor before it is written. It masks, as ``[secret]``: the value of
any field whose name is a credential's (``vault_token``, ``passphrase``, ``api_key``… by the one
rule of :mod:`components.common.masking`, at any depth), credentials inside any text (a URL's
``user:pass@`` and ``?private_token=…``, ``password=…``, ``"secret_key": "…"``, ``Bearer …``),
and any occurrence of a secret taken from the environment (``PULUMI_CONFIG_PASSPHRASE``,
``VAULT_TOKEN``…), wherever it appears — so even an error message that quotes one is masked. The
daemon never logs resolved ``vault://`` values in the first place (the program resolves them inside
Pulumi); this is the net under that rule.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from components.common import masking

LOGGER_NAME = "driftless"
REDACTED = masking.SECRET
_MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look secret."""
    environ = os.environ if environ is None else environ
    return [
        value
        for name, value in environ.items()
        if masking.is_credential_name(name) and len(value) >= _MIN_SECRET_LENGTH
    ]


class Redactor:
    """Masks secret-looking fields and known secret values."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if len(secret) >= _MIN_SECRET_LENGTH and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        return masking.mask_text(value)

    def fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        masked = masking.mask_tree(dict(fields), text=self.text)
        # A credential-named field is hidden whatever it holds (a list, a mapping), when it holds anything.
        for key, value in fields.items():
            if masking.is_credential_name(str(key)) and value not in (None, "", False):
                masked[key] = REDACTED
        return masked


class StructuredFormatter(logging.Formatter):
    """Formats ``logger.info("event", extra={"fields": {...}})`` as key=value or JSON."""

    def __init__(self, style: str = "kv", redactor: Redactor | None = None):
        super().__init__()
        if style not in ("kv", "json"):
            raise ValueError(f"log format must be kv or json, not {style!r}")
        self.style = style
        self.redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        fields.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        fields = self.redactor.fields(fields)
        if self.style == "json":
            return json.dumps(fields, default=str, ensure_ascii=False)
        return " ".join(f"{key}={_kv(value)}" for key, value in fields.items() if value is not None)


def _kv(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if text == "" or re.search(r'[\s="]', text):
        return json.dumps(text, ensure_ascii=False)
    return text


class EventLog:
    """``log.info("operation.finished", stack="dev", kind="up")``: events with fields."""

    def __init__(self, logger: logging.Logger | None = None):
        self.logger = logger or logging.getLogger(LOGGER_NAME)

    def _emit(self, level: int, event: str, fields: Mapping[str, Any]) -> None:
        self.logger.log(level, event, extra={"fields": dict(fields)})

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, event, fields)


def configure_logging(
    style: str = "kv",
    level: int = logging.INFO,
    stream: TextIO | None = None,
    redactor: Redactor | None = None,
) -> logging.Handler:
    """Send the ``driftless`` logger's events to ``stream`` (stderr), redacted; returns the handler."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if getattr(handler, "_driftless", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(StructuredFormatter(style, redactor or Redactor(secrets_from_environment())))
    handler._driftless = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler
