"""``import-fivetran``: FivetranConnector documents for the connections a Fivetran group already has.

Each printed document sets ``connectionId``, so the next ``up`` adopts the connection through
Pulumi's import instead of creating a second one. Only what Fivetran's list of a group's
connections tells is written (service, destination schema, schedule, pause state); config and
auth are never read or printed: add them, as ``vault://`` references, where driftless should
manage them. Connections a document of the stack already manages are left out.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.documents import StackDocuments, StackFileError, load_stack_file
from components.fivetran.spec import CONNECTOR_SDK_SERVICE, SYNC_FREQUENCIES, FivetranConnectorSpec

API_URL_ENV = "FIVETRAN_API_URL"
API_KEY_ENV = "FIVETRAN_API_KEY"
API_SECRET_ENV = "FIVETRAN_API_SECRET"
DEFAULT_API_URL = "https://api.fivetran.com/v1"
PAGE_SIZE = 100  # Fivetran's default; it accepts 1..1000
MAX_PAGES = 10_000  # a server that never stops handing out cursors is an error, not a loop
TIMEOUT_SECONDS = 30
KIND = "FivetranConnector"
_NOT_IN_NAME = re.compile(r"[^a-z0-9-]+")
MAX_NAME = 63


class FivetranImportError(Exception):
    """Something the user must fix (credentials, group id, stack file); the message says what."""


@dataclass(frozen=True)
class Credentials:
    api_url: str
    key: str
    secret: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Credentials:
        missing = [name for name in (API_KEY_ENV, API_SECRET_ENV) if not environ.get(name)]
        if missing:
            raise FivetranImportError(
                f"set {' and '.join(missing)}: the Fivetran API key and secret to list with"
            )
        url = (environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
        return cls(url, environ[API_KEY_ENV], environ[API_SECRET_ENV])

    def authorization(self) -> str:
        token = base64.b64encode(f"{self.key}:{self.secret}".encode()).decode("ascii")
        return f"Basic {token}"


def list_connections(group_id: str, credentials: Credentials) -> list[dict[str, Any]]:
    """Every connection of ``group_id``, following ``next_cursor`` through the pages."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        query = {"limit": str(PAGE_SIZE)}
        if cursor:
            query["cursor"] = cursor
        path = f"/groups/{urllib.parse.quote(group_id, safe='')}/connections"
        data = _get(credentials, path, query, group_id)
        items = data.get("items")
        if not isinstance(items, list):
            raise FivetranImportError(f"Fivetran's answer for group {group_id!r} has no list of items")
        found.extend(item for item in items if isinstance(item, dict))
        cursor = data.get("next_cursor") or None
        if cursor is None:
            return found
    raise FivetranImportError(f"Fivetran kept returning pages for group {group_id!r} ({MAX_PAGES}); stopped")


def _get(credentials: Credentials, path: str, query: Mapping[str, str], group_id: str) -> dict[str, Any]:
    url = f"{credentials.api_url}{path}?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(
        url,
        headers={
            "Authorization": credentials.authorization(),
            "Accept": "application/json",
            "User-Agent": "driftless-import-fivetran",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise FivetranImportError(_http_problem(exc, group_id)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FivetranImportError(
            f"cannot reach the Fivetran API at {credentials.api_url}: {reason}"
        ) from None
    try:
        envelope = json.loads(body)
    except ValueError:
        raise FivetranImportError(
            f"the Fivetran API at {credentials.api_url} did not answer with JSON"
        ) from None
    if (
        not isinstance(envelope, dict)
        or envelope.get("code") != "Success"
        or not isinstance(envelope.get("data"), dict)
    ):
        code = envelope.get("code") if isinstance(envelope, dict) else None
        raise FivetranImportError(
            f"Fivetran answered {code or 'something unexpected'} for group {group_id!r}"
        )
    return envelope["data"]


def _http_problem(exc: urllib.error.HTTPError, group_id: str) -> str:
    message = ""
    try:
        answer = json.loads(exc.read() or b"{}")
        if isinstance(answer, dict):
            message = str(answer.get("message") or answer.get("code") or "")
    except ValueError:
        pass
    detail = f": {message}" if message else ""
    if exc.code in (401, 403):
        return (
            f"Fivetran refused the API key (HTTP {exc.code}){detail}; check {API_KEY_ENV} and "
            f"{API_SECRET_ENV}, and that the key may read group {group_id!r}"
        )
    if exc.code == 404:
        return f"Fivetran has no group {group_id!r} (HTTP 404){detail}"
    return f"Fivetran answered HTTP {exc.code} for group {group_id!r}{detail}"


def destination_schema(connection: Mapping[str, Any]) -> dict[str, str]:
    """The document's ``destinationSchema`` from the connection's ``schema``.

    Database connectors write under a prefix: that shows as ``config.schema_prefix`` when the answer
    carries the config. Otherwise ``name.table`` is a single-table (file) connector and a plain
    name is an app connector's schema.
    """
    schema = str(connection.get("schema") or "")
    config = connection.get("config")
    if isinstance(config, Mapping) and config.get("schema_prefix"):
        return {"prefix": str(config["schema_prefix"])}
    name, dot, table = schema.partition(".")
    return {"name": name, "table": table} if dot and table else {"name": name}


def document_for(connection: Mapping[str, Any], group_id: str, name: str) -> dict[str, Any]:
    """One FivetranConnector document that adopts ``connection``; validated like a stack file's."""
    spec: dict[str, Any] = {
        "groupId": group_id,
        "service": str(connection.get("service") or ""),
        "connectionId": str(connection.get("id") or ""),
        "destinationSchema": destination_schema(connection),
        "paused": bool(connection.get("paused", False)),
    }
    frequency = connection.get("sync_frequency")
    if frequency in SYNC_FREQUENCIES:
        schedule: dict[str, Any] = {"syncFrequency": frequency}
        if frequency == SYNC_FREQUENCIES[-1] and connection.get("daily_sync_time"):
            schedule["dailySyncTime"] = str(connection["daily_sync_time"])
        spec["schedule"] = schedule
    FivetranConnectorSpec.model_validate(spec)  # what the stack file will check
    return {"kind": KIND, "metadata": {"name": name}, "spec": spec}


@dataclass(frozen=True)
class Skipped:
    connection_id: str
    why: str


def plan_documents(
    connections: list[dict[str, Any]], group_id: str, stack: StackDocuments | None
) -> tuple[list[dict[str, Any]], list[Skipped]]:
    """The documents to paste, and the connections left out with the reason."""
    managed_ids: dict[str, str] = {}
    managed_schemas: dict[tuple[str, ...], str] = {}
    taken: set[str] = set()
    for document in stack.of_kind(KIND) if stack is not None else ():
        spec = document.spec
        taken.add(document.name)
        if isinstance(spec, FivetranConnectorSpec):
            if spec.connection_id:
                managed_ids[spec.connection_id] = document.subject
            managed_schemas[(spec.group_id, *_schema_key(spec.destination_schema.to_provider()))] = (
                document.subject
            )
    documents: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    for connection in sorted(connections, key=lambda item: str(item.get("schema") or item.get("id"))):
        connection_id = str(connection.get("id") or "")
        service = str(connection.get("service") or "")
        key = (group_id, *_schema_key(destination_schema(connection)))
        if connection_id in managed_ids:
            skipped.append(Skipped(connection_id, f"already adopted by {managed_ids[connection_id]}"))
        elif key in managed_schemas:
            skipped.append(Skipped(connection_id, f"its schema is already managed by {managed_schemas[key]}"))
        elif service == CONNECTOR_SDK_SERVICE:
            skipped.append(
                Skipped(
                    connection_id,
                    "a connector_sdk connection needs its package folder: write its document by hand, "
                    f"with connectionId: {connection_id}",
                )
            )
        else:
            name = _unique_name(str(connection.get("schema") or connection_id), taken)
            try:
                documents.append(document_for(connection, group_id, name))
            except ValueError as exc:
                skipped.append(Skipped(connection_id, f"not expressible as a document: {_first_line(exc)}"))
                continue
            taken.add(name)
    return documents, skipped


def _schema_key(destination: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(f"{field}={destination[field]}" for field in sorted(destination))


def _unique_name(schema: str, taken: set[str]) -> str:
    base = _NOT_IN_NAME.sub("-", schema.lower()).strip("-")[:MAX_NAME].strip("-") or "connection"
    name, number = base, 2
    while name in taken:
        suffix = f"-{number}"
        name = base[: MAX_NAME - len(suffix)].rstrip("-") + suffix
        number += 1
    return name


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def render_documents(documents: list[dict[str, Any]], group_id: str, stack: str) -> str:
    header = (
        f"# FivetranConnector documents for the connections of Fivetran group {group_id}: paste them\n"
        f"# into stacks/{stack}.yaml; the next up adopts each connection (connectionId) instead of\n"
        "# creating it. Add config and auth (vault:// references) only where driftless should set them.\n"
    )
    body = "---\n".join(yaml.safe_dump(document, sort_keys=False) for document in documents)
    return header + body


def load_stack(stacks_dir: Path, stack: str) -> StackDocuments | None:
    """The stack's documents, to leave out what it already manages; None when the file is new."""
    path = stacks_dir / f"{stack}.yaml"
    if not path.exists():
        return None
    try:
        return load_stack_file(path)
    except StackFileError as exc:
        problems = "\n".join(f"  {error}" for error in exc.errors)
        raise FivetranImportError(f"fix {path} first:\n{problems}") from None


def import_group(
    stack: str, group_id: str, stacks_dir: Path, environ: Mapping[str, str]
) -> tuple[str, list[Skipped]]:
    """The text to print for ``import-fivetran --stack STACK --group GROUP``, and what was left out."""
    existing = load_stack(stacks_dir, stack)
    credentials = Credentials.from_environment(environ)
    connections = list_connections(group_id, credentials)
    documents, skipped = plan_documents(connections, group_id, existing)
    return (render_documents(documents, group_id, stack) if documents else ""), skipped


def skipped_lines(skipped: list[Skipped]) -> Iterator[str]:
    for item in skipped:
        yield f"skipped {item.connection_id}: {item.why}"


def add_command(commands: Any, project_dir: Path) -> None:
    """``import-fivetran`` on the command line's subcommands."""
    command = commands.add_parser(
        "import-fivetran",
        help="print FivetranConnector documents that adopt a Fivetran group's existing connections",
        description=(
            f"Lists the group's connections through Fivetran's REST API ({API_KEY_ENV}, {API_SECRET_ENV}; "
            f"{API_URL_ENV} defaults to {DEFAULT_API_URL}) and prints a document per connection the "
            "stack does not manage yet, with connectionId set. Never prints config or auth."
        ),
    )
    command.add_argument(
        "--stack", required=True, help="the stack the documents are for: stacks/<STACK>.yaml"
    )
    command.add_argument("--group", required=True, help="the Fivetran group (destination) id")
    command.add_argument(
        "--stacks-dir",
        type=Path,
        default=project_dir / "stacks",
        help="stack files (default: <project>/stacks)",
    )
    command.set_defaults(handler=_command)


def _command(args: Any) -> int:
    try:
        text, skipped = import_group(args.stack, args.group, args.stacks_dir, os.environ)
    except FivetranImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in skipped_lines(skipped):
        print(line, file=sys.stderr)
    if text:
        print(text, end="")
    else:
        print(f"no connection of group {args.group} left to adopt", file=sys.stderr)
    return 0
