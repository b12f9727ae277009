"""``sandbox up|down|status|env`` without the engine: flag and port checks, CRD files, pid files, env output.

The sandbox's processes themselves run in ``test_sandbox.py`` (``pytest -m engine``).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from automation.cli import main
from automation.engine.sandbox import (
    SANDBOX_PASSPHRASE,
    Ports,
    SandboxConfig,
    SandboxError,
    choose_ports,
    load_crds,
    shell_exports,
)


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(["sandbox", *args])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture
def empty_engine_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "engine-cache"
    cache.mkdir()
    monkeypatch.setenv("DRIFTLESS_ENGINE_CACHE", str(cache))
    return cache


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


# --- ports -----------------------------------------------------------------------------------------


def test_flags_win_over_the_recorded_ports_which_win_over_the_defaults():
    recorded = Ports(etcd=30001, etcd_peer=30002, apiserver=30003, controller_manager=30004, openbao=30005)
    assert choose_ports({"apiserver": 31000, "etcd": None}, recorded) == Ports(
        etcd=30001, etcd_peer=30002, apiserver=31000, controller_manager=30004, openbao=30005
    )
    assert choose_ports({}) == Ports()


def test_the_default_ports_stay_clear_of_a_real_clusters():
    assert {2379, 2380, 6443, 10257, 8200, 8201}.isdisjoint(
        {
            Ports().etcd,
            Ports().etcd_peer,
            Ports().apiserver,
            Ports().controller_manager,
            Ports().openbao,
            Ports().openbao + 1,
        }
    )


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        ({"apiserver": 70000}, "--apiserver-port 70000 is not a usable port: use 1-65535"),
        ({"etcd": 0}, "--etcd-port 0 is not a usable port: use 1-65535"),
        (
            {"openbao": 65535},
            "--openbao-port 65535 is not a usable port: use 1-65534 (OpenBao also listens on the next port)",
        ),
        ({"apiserver": 12379}, "--etcd-port and --apiserver-port are both 12379: give each its own port"),
        (
            {"controller_manager": 18201},
            "--controller-manager-port and --openbao-port + 1 (OpenBao's cluster listener) are both 18201: "
            "give each its own port",
        ),
    ],
)
def test_unusable_or_shared_ports_are_refused_naming_the_flag(requested, message):
    with pytest.raises(SandboxError) as raised:
        choose_ports(requested)
    assert str(raised.value) == message


def test_up_with_a_bad_port_creates_nothing(cli, tmp_path):
    result = cli("up", "--state-dir", str(tmp_path / "state"), "--apiserver-port", "70000")
    assert result.returncode == 1
    assert result.stderr == "error: --apiserver-port 70000 is not a usable port: use 1-65535\n"
    assert not (tmp_path / "state").exists()


def test_up_names_each_missing_binary_and_each_taken_port_and_starts_nothing(
    cli, tmp_path, empty_engine_cache, held_port
):
    state = tmp_path / "state"
    with socket.socket() as etcd, socket.socket() as peer, socket.socket() as manager:
        for probe in (etcd, peer, manager):
            probe.bind(("127.0.0.1", 0))
        free = [f"{probe.getsockname()[1]}" for probe in (etcd, peer, manager)]
    ports = ["--etcd-port", free[0], "--etcd-peer-port", free[1], "--controller-manager-port", free[2]]
    result = cli("up", "--state-dir", str(state), "--apiserver-port", str(held_port), *ports, "--no-openbao")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: etcd is not built: run `python -m automation engine build`",
        "error: kube-apiserver is not built: run `python -m automation engine build`",
        "error: kube-controller-manager is not built: run `python -m automation engine build`",
        f"error: port {held_port} is in use: stop what holds it or pass --apiserver-port",
    ]
    assert not (state / "sandbox" / "run").exists()
    assert not (state / "sandbox" / "sandbox.json").exists()


# --- CRD files -------------------------------------------------------------------------------------

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.example.com
  creationTimestamp: null
spec:
  group: example.com
  names: {{kind: {kind}, plural: {plural}}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {{openAPIV3Schema: {{type: object}}}}
status:
  acceptedNames: {{kind: "", plural: ""}}
"""


def test_every_document_of_every_file_is_a_crd_to_apply_without_what_the_server_owns(tmp_path):
    (tmp_path / "a.yaml").write_text(CRD.format(plural="widgets", kind="Widget"))
    (tmp_path / "b.yaml").write_text(
        "---\n"
        + CRD.format(plural="gadgets", kind="Gadget")
        + "---\n"
        + CRD.format(plural="gizmos", kind="Gizmo")
    )
    (tmp_path / "notes.md").write_text("not a manifest")

    crds = load_crds(tmp_path)

    assert [(c.path.name, c.line, c.name) for c in crds] == [
        ("a.yaml", 1, "widgets.example.com"),
        ("b.yaml", 2, "gadgets.example.com"),
        ("b.yaml", 19, "gizmos.example.com"),
    ]
    assert "status" not in crds[0].body
    assert crds[0].body["metadata"] == {"name": "widgets.example.com"}
    assert crds[0].body["spec"]["names"] == {"kind": "Widget", "plural": "widgets"}


def test_every_bad_crd_file_is_named_with_its_line_and_field(tmp_path):
    (tmp_path / "a-broken.yaml").write_text("apiVersion: v1\nkind: [unclosed\n")
    (tmp_path / "b-configmap.yaml").write_text(
        CRD.format(plural="widgets", kind="Widget")
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    )
    (tmp_path / "c-old.yaml").write_text(
        CRD.format(plural="olds", kind="Old").replace(
            "apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1"
        )
    )
    (tmp_path / "d-nameless.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
    )
    (tmp_path / "e-again.yaml").write_text(CRD.format(plural="widgets", kind="Widget"))
    (tmp_path / "f-list.yaml").write_text("- 1\n- 2\n")

    with pytest.raises(SandboxError) as raised:
        load_crds(tmp_path, "$DRIFTLESS_CRDS")

    assert str(raised.value).splitlines() == [
        f"{tmp_path}/a-broken.yaml:3: not valid YAML: did not find expected ',' or ']'",
        f"{tmp_path}/b-configmap.yaml:18: kind: expected CustomResourceDefinition, found 'ConfigMap'",
        f"{tmp_path}/c-old.yaml:1: apiVersion: expected apiextensions.k8s.io/v1, "
        "found 'apiextensions.k8s.io/v1beta1'",
        f"{tmp_path}/d-nameless.yaml:1: metadata.name: missing",
        f"{tmp_path}/e-again.yaml:1: metadata.name: widgets.example.com is also defined at "
        f"{tmp_path}/b-configmap.yaml:1",
        f"{tmp_path}/f-list.yaml:1: expected a CustomResourceDefinition mapping, found list",
    ]


def test_a_crd_directory_that_is_missing_or_empty_is_an_error(tmp_path):
    with pytest.raises(SandboxError, match=r"^--crds .*/nowhere is not a directory$"):
        load_crds(tmp_path / "nowhere")
    with pytest.raises(SandboxError, match=r"^--crds .* holds no \*\.yaml files$"):
        load_crds(tmp_path)


def test_up_refuses_bad_crds_from_the_environment_before_starting_anything(
    cli, tmp_path, empty_engine_cache, monkeypatch
):
    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / "x.yaml").write_text("kind: ConfigMap\n")
    monkeypatch.setenv("DRIFTLESS_CRDS", str(crds))
    result = cli("up", "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 1
    assert (
        result.stderr
        == f"error: {crds}/x.yaml:1: kind: expected CustomResourceDefinition, found 'ConfigMap'\n"
    )
    assert not (tmp_path / "state").exists()


# --- env -------------------------------------------------------------------------------------------


def test_exports_survive_eval_whatever_the_values_hold():
    values = {"PLAIN": "abc", "SPACES": "a b  c", "QUOTES": 'it\'s "x"', "DOLLAR": "$HOME `id` $(id)"}
    script = shell_exports(values) + 'printf "%s\\n" "$PLAIN" "$SPACES" "$QUOTES" "$DOLLAR"'
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == list(values.values())


def record_sandbox(state: Path, components: tuple[str, ...]) -> None:
    sandbox = state / "sandbox"
    sandbox.mkdir(parents=True)
    config = SandboxConfig(Ports(apiserver=26443, openbao=28200), "kube-token", "bao-token", components)
    (sandbox / "sandbox.json").write_text(json.dumps(config.to_json()))


def test_env_prints_exports_that_point_pulumi_kubernetes_and_vault_at_the_sandbox(cli, tmp_path, monkeypatch):
    state = tmp_path / "state dir"  # a space, to prove the quoting
    record_sandbox(state, ("etcd", "kube-apiserver", "kube-controller-manager", "openbao"))
    cache = tmp_path / "cache"

    monkeypatch.setenv("DRIFTLESS_ENGINE_CACHE", str(cache))
    printed = cli("env", "--state-dir", str(state))
    assert printed.returncode == 0, printed.stderr
    names = (
        "KUBECONFIG",
        "PULUMI_BACKEND_URL",
        "PULUMI_CONFIG_PASSPHRASE",
        "PULUMI_HOME",
        "PULUMI_SKIP_UPDATE_CHECK",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
        "DRIFTLESS_SKIP_AWAIT",
        "VAULT_ADDR",
        "VAULT_TOKEN",
    )
    script = printed.stdout + printed.stdout + "".join(f'echo "${name}"\n' for name in names) + 'echo "$PATH"'
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    *values, path = result.stdout.splitlines()

    assert dict(zip(names, values, strict=True)) == {
        "KUBECONFIG": f"{state}/sandbox/kubeconfig",
        "PULUMI_BACKEND_URL": f"file://{state}/sandbox/pulumi-state",
        "PULUMI_CONFIG_PASSPHRASE": SANDBOX_PASSPHRASE,
        "PULUMI_HOME": f"{cache}/pulumi-home",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "DRIFTLESS_SKIP_AWAIT": "true",
        "VAULT_ADDR": "http://127.0.0.1:28200",
        "VAULT_TOKEN": "bao-token",
    }
    first, *rest = path.split(":")
    assert first.startswith(f"{cache}/pulumi-")
    assert first.endswith("/bin")
    assert first not in rest  # eval'ed twice, the built CLI is still on PATH once


def test_env_has_no_vault_when_openbao_is_not_part_of_the_sandbox(cli, tmp_path):
    record_sandbox(tmp_path, ("etcd", "kube-apiserver", "kube-controller-manager"))
    printed = cli("env", "--state-dir", str(tmp_path))
    assert printed.returncode == 0
    assert "VAULT_" not in printed.stdout
    assert "export KUBECONFIG=" in printed.stdout


def test_env_and_status_without_a_sandbox_say_how_to_start_one(cli, tmp_path):
    for command in ("env", "status"):
        result = cli(command, "--state-dir", str(tmp_path))
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == (
            f"error: no sandbox in {tmp_path}/sandbox: run `python -m automation sandbox up` first\n"
        )


# --- down and pid files ----------------------------------------------------------------------------


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def write_pid_file(state: Path, name: str, pid: int, argv: list[str]) -> Path:
    path = state / "sandbox" / "run" / f"{name}.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "argv": argv}))
    return path


def test_down_stops_the_process_its_pid_file_names(cli, tmp_path, sleeper):
    pid_file = write_pid_file(tmp_path, "etcd", sleeper.pid, ["sleep", "300"])

    result = cli("down", "--state-dir", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"etcd: stopped (pid {sleeper.pid})\n"
    assert sleeper.wait(timeout=5) == -signal.SIGTERM
    assert not pid_file.exists()


def test_down_never_signals_a_pid_that_now_runs_something_else(cli, tmp_path, sleeper):
    pid_file = write_pid_file(
        tmp_path, "kube-apiserver", sleeper.pid, ["/opt/kube-apiserver", "--secure-port=1"]
    )

    result = cli("down", "--state-dir", str(tmp_path))

    assert result.returncode == 0
    assert result.stdout == f"kube-apiserver: was not running (pid {sleeper.pid} gone)\n"
    time.sleep(0.2)
    assert sleeper.poll() is None
    assert not pid_file.exists()


def test_down_kills_what_ignores_sigterm_after_the_timeout(cli, tmp_path):
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""\
            import signal, sys, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("ready", flush=True)
            time.sleep(300)
        """),
        ],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    try:
        assert stubborn.stdout is not None
        assert stubborn.stdout.readline() == b"ready\n"
        argv = Path(f"/proc/{stubborn.pid}/cmdline").read_bytes().split(b"\0")[:-1]
        write_pid_file(tmp_path, "openbao", stubborn.pid, [a.decode() for a in argv])

        result = cli("down", "--state-dir", str(tmp_path), "--timeout", "0.5")

        assert result.stdout == f"openbao: killed after 0 s (pid {stubborn.pid})\n"
        assert stubborn.wait(timeout=5) == -signal.SIGKILL
    finally:
        if stubborn.poll() is None:
            stubborn.kill()
        stubborn.wait()


def test_down_purge_removes_the_sandbox_folder_and_leaves_the_rest_of_the_state(cli, tmp_path, sleeper):
    write_pid_file(tmp_path, "etcd", sleeper.pid, ["sleep", "300"])
    (tmp_path / "sandbox" / "etcd").mkdir()
    (tmp_path / "status.db").write_text("the daemon's")

    result = cli("down", "--state-dir", str(tmp_path), "--purge")

    assert result.returncode == 0
    assert result.stdout.splitlines() == [f"etcd: stopped (pid {sleeper.pid})", f"removed {tmp_path}/sandbox"]
    assert not (tmp_path / "sandbox").exists()
    assert (tmp_path / "status.db").exists()
