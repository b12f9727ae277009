"""``render`` on stack files that used to end in a traceback: now the located errors and exit 1."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from automation.cli import main
from tests.harness import SHARED_CRDS

PROJECT = Path(__file__).resolve().parents[3]
LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)
CONNECTOR = "kind: FivetranConnector\nmetadata: {name: s3}\nspec:\n  groupId: g\n  service: s3\n"


def render(*args: str) -> tuple[int, dict, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["render", *args, "--format", "json"])
    return code, json.loads(out.getvalue()), err.getvalue().splitlines()


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b'kind: "\\UFFFFFFFF"\n', 1, 'invalid YAML: the escape "\\UFFFFFFFF" is not a Unicode character'),
        ("kind: WandB\n".encode("utf-16"), None, "the file is UTF-16"),
        (b"kind: Wand\x00B\n", 1, "a NUL character (U+0000) at column 11 is not allowed in YAML"),
        (b"kind: WandB\x1b\n", 1, "the control character U+001B at column 12 is not allowed in YAML"),
        (b"kind: \xffWandB\n", 1, "the byte 0xFF at column 7 is not UTF-8"),
        (b"a: " + b"[" * 991 + b"]" * 991 + b"\n", 1, "mappings and sequences nest at most 64 levels deep"),
        (CONNECTOR.encode() + b"  replicas: " + b"9" * 5000 + b"\n", 6, "an integer has at most 100 digits"),
        (LAUGHS.encode(), 6, "a stack file holds at most 100,000 values"),
        (CONNECTOR.encode() + b"  config: {since: 2024-01-01}\n", 6, "an unquoted date or time is a YAML"),
    ],
)
def test_a_bad_stack_file_is_reported_at_its_line_and_exits_1(
    tmp_path: Path, data: bytes, line: int | None, message: str
):
    stack = tmp_path / "bad.yaml"
    stack.write_bytes(data)
    code, rendered, stderr = render("--file", str(stack))
    assert code == 1
    (problem,) = rendered["problems"]
    assert problem["file"] == str(stack)
    assert problem["line"] == line
    assert message in problem["message"]
    where = str(stack) if line is None else f"{stack}:{line}"
    assert stderr[-1].startswith(f"error: {where}: ")
    assert message in stderr[-1]


def test_a_file_named_past_the_stack_name_limit_is_reported_not_a_crash(tmp_path: Path):
    stack = tmp_path / f"{'n' * 250}.yaml"
    stack.write_text("kind: DomainPool\nmetadata: {name: a}\nspec: {baseDomain: a.com, clusterIssuer: x}\n")
    code, rendered, stderr = render("--file", str(stack))
    assert code == 1
    assert rendered["problems"] == [
        {
            "resource": "",
            "path": "",
            "file": str(stack),
            "line": None,
            "message": "the file name is not a stack name: a stack name has at most 100 characters, "
            "this one has 250",
        }
    ]
    assert stderr == [f"error: {stack}: {rendered['problems'][0]['message']}"]


@pytest.mark.parametrize("name", ["n" * 250, "../stacks/dev"])
def test_a_stack_argument_that_is_no_stack_name_is_reported(name: str):
    code, rendered, stderr = render("--stack", name)
    assert code == 1
    (problem,) = rendered["problems"]
    assert problem["file"].endswith(f"{name}.yaml")
    assert problem["line"] is None
    assert problem["message"].startswith("a stack name has ")
    assert stderr[-1].startswith("error: ")


def test_the_render_command_prints_no_traceback_for_a_memory_bomb(tmp_path: Path):
    stack = tmp_path / "laughs.yaml"
    stack.write_text(LAUGHS)
    result = subprocess.run(
        [sys.executable, "-m", "automation", "render", "--file", str(stack)],
        cwd=PROJECT,
        env={**os.environ, "DRIFTLESS_CRD_SCHEMAS": str(SHARED_CRDS)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {stack}:6: a stack file holds at most 100,000 values (an alias counts as a copy of all it "
        "names); by here this one holds more\n"
    )
