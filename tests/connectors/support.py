"""Test support for the connectors: module loading, a local fake-API server base, and a ``fivetran debug`` driver.

The connectors import their siblings as top-level modules (``common``, ``api``, ``sync``,
``models``), as they do inside their deployment package. :func:`load_connector` imports one
connector's modules under those names and then takes them out of ``sys.modules`` again, so the
two connectors (which both have an ``api.py``) can be tested in one session.

:class:`DebugProject` runs a connector the way a developer does, with the SDK's own local runner:
it builds the deployment zip with ``components.common.archive``, unpacks it into a temporary
project folder, writes ``configuration.json`` and runs ``fivetran debug`` in a subprocess, which
writes ``files/warehouse.db`` (DuckDB) and ``files/state.json``. What that run needs from the
network is kept off it: the SDK's and the core's PyPI version checks (skipped by stamping their
last-check times into a temporary ``HOME``), telemetry (``DO_NOT_TRACK=1``), and ``pipreqs``'
PyPI lookups during the requirements check (``pipreqs`` runs with ``--use-local`` through a shim
on ``PATH``). The requirements check itself still runs.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zipfile import ZipFile

import pytest

REPO = Path(__file__).resolve().parents[2]
CONNECTORS = REPO / "connectors"
SHARED = [CONNECTORS / "common"]
VENV_BIN = Path(sys.executable).parent
_LOCAL_MODULES = ("api", "models", "sync", "connector")
_loaded: dict[str, SimpleNamespace] = {}

if str(CONNECTORS) not in sys.path:
    # `common` is imported as a top-level package, as inside a deployment package.
    sys.path.insert(0, str(CONNECTORS))


def load_connector(name: str) -> SimpleNamespace:
    """The ``models``, ``api`` and ``sync`` modules of ``connectors/<name>`` (imported once per session)."""
    if name in _loaded:
        return _loaded[name]
    directory = str(CONNECTORS / name)
    saved = {module: sys.modules.pop(module) for module in _LOCAL_MODULES if module in sys.modules}
    sys.path.insert(0, directory)
    try:
        modules = {module: importlib.import_module(module) for module in ("models", "api", "sync")}
    finally:
        sys.path.remove(directory)
        for module in _LOCAL_MODULES:
            sys.modules.pop(module, None)
        sys.modules.update(saved)
    _loaded[name] = SimpleNamespace(**modules)
    return _loaded[name]


@dataclass
class Recorded:
    """One request a fake API answered."""

    at: float
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0
    note: str = ""  # what the fake did on purpose (a failure it injected)


class FakeApi:
    """Base of the fake source APIs: a threaded HTTP server on 127.0.0.1 (random port) with a request log.

    Subclasses implement ``answer(request) -> (status, headers, body)``; ``body`` is JSON-encoded
    unless it is ``str``. ``on_crash`` is what the fake calls to crash the connector mid-sync.
    """

    def __init__(self) -> None:
        self.log: list[Recorded] = []
        self.lock = threading.Lock()
        self.on_crash: Any = None
        self.crashed = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                path, _, query_text = self.path.partition("?")
                query = dict(pair.split("=", 1) for pair in query_text.split("&") if "=" in pair)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                request = Recorded(
                    time.monotonic(),
                    self.command,
                    path,
                    query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake.lock:
                    fake.log.append(request)
                status, headers, payload = fake.answer(request)
                request.status = status
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timed out) or was killed
                    pass

            do_GET = do_POST = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda *args: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], Any]:
        raise NotImplementedError

    def crash(self) -> None:
        """Kills the connector process (once), as a crash mid-sync would."""
        if not self.crashed and self.on_crash is not None:
            self.crashed = True
            self.on_crash()

    def __enter__(self) -> FakeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class DebugRun:
    """The outcome of one ``fivetran debug`` run."""

    returncode: int
    output: str
    project: Path
    requests: list[Recorded] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        return json.loads((self.project / "files" / "state.json").read_text())

    def rows(self, table: str) -> list[dict[str, Any]]:
        import duckdb

        with duckdb.connect(str(self.project / "files" / "warehouse.db"), read_only=True) as db:
            columns = db.execute(f'DESCRIBE tester."{table}"').fetchall()
            # Timestamps come out as epoch microseconds: DuckDB's own conversion needs pytz.
            instants = {name for name, kind, *_ in columns if kind.startswith("TIMESTAMP")}
            select = ", ".join(f'epoch_us("{n}")' if n in instants else f'"{n}"' for n, *_ in columns)
            rows = db.execute(f'SELECT {select} FROM tester."{table}"').fetchall()
        names = [name for name, *_ in columns]
        return [
            {
                name: _instant(value) if name in instants and value is not None else value
                for name, value in zip(names, row, strict=True)
            }
            for row in rows
        ]

    def upserts(self) -> int:
        """The upsert count of the run's SYNC SUCCEEDED report."""
        match = re.search(r"Upserts\s*\|\s*(\d+)", self.output)
        assert match, f"no sync report in the output:\n{self.output[-3000:]}"
        return int(match.group(1))


def _instant(microseconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=microseconds)


class DebugProject:
    """A connector's deployment package unpacked into a project folder, run with ``fivetran debug``."""

    def __init__(self, tmp_path: Path, name: str, configuration: dict[str, str]) -> None:
        from components.common.archive import build_connector_package

        if not (VENV_BIN / "fivetran").is_file():
            pytest.fail("the `fivetran` CLI is missing: pip install -r connectors/requirements-sdk.txt")
        self.name = name
        self.package = build_connector_package(CONNECTORS / name, SHARED, tmp_path / "dist")
        self.project = tmp_path / "project"
        with ZipFile(self.package) as archive:
            archive.extractall(self.project)
        (self.project / "configuration.json").write_text(json.dumps(configuration))
        self.home = tmp_path / "home"
        now = int(time.time())
        sdk = self.home / ".fivetran" / "connector_sdk"
        sdk.mkdir(parents=True)
        (sdk / "_last_version_check").write_text(str(now))
        core = self.home / ".fivetran" / "connector_sdk_core"
        core.mkdir(parents=True)
        (core / "_config.json").write_text(json.dumps({"lastVersionCheck": now, "licenseNoticeShown": True}))
        self.shims = tmp_path / "shims"
        self.shims.mkdir()
        shim = self.shims / "pipreqs"
        shim.write_text(f'#!/bin/sh\nexec "{VENV_BIN / "pipreqs"}" --use-local "$@"\n')
        shim.chmod(0o755)
        self.runs = 0

    def _environment(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FIVETRAN_")}
        environment.update(
            HOME=str(self.home),
            DO_NOT_TRACK="1",
            PATH=f"{self.shims}{os.pathsep}{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
        )
        return environment

    @contextmanager
    def started(self) -> Iterator[subprocess.Popen[str]]:
        """Starts ``fivetran debug`` on the project; the process is killed if still running at exit."""
        self.runs += 1
        log = self.project.parent / f"run-{self.runs}.log"
        with open(log, "w") as output:
            process = subprocess.Popen(
                [
                    str(VENV_BIN / "fivetran"),
                    "debug",
                    str(self.project),
                    "--configuration",
                    "configuration.json",
                ],
                cwd=self.project,
                env=self._environment(),
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                yield process
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait()

    def run(self, fake: FakeApi, *, crash: bool = False, timeout: float = 90) -> DebugRun:
        """Runs one sync against ``fake``; with ``crash`` the fake may kill it (see ``FakeApi.crash``)."""
        first_request = len(fake.log)
        with self.started() as process:
            fake.on_crash = process.kill if crash else None
            try:
                process.wait(timeout=timeout)
            finally:
                fake.on_crash = None
        output = (self.project.parent / f"run-{self.runs}.log").read_text()
        return DebugRun(process.returncode, output, self.project, fake.log[first_request:])
