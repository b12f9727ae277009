"""Any bytes given as a stack file load as documents or fail with located errors, never a crash.

Property-based: raw bytes, and text built from YAML's own syntax (anchors and aliases, tags, escapes,
deep nesting, long integers) spliced into a real stack, go through the loader and through
``python -m automation render``. CI runs a fixed, derandomized set of examples; for a longer random
run set ``DRIFTLESS_FUZZ_EXAMPLES`` (e.g. ``DRIFTLESS_FUZZ_EXAMPLES=20000``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automation.cli import main
from components.documents import SpecError, StackDocuments, StackFileError, load_stack_file, load_stack_text

LONG_RUN_EXAMPLES = int(os.environ.get("DRIFTLESS_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=LONG_RUN_EXAMPLES or 300,
    deadline=None,
    derandomize=not LONG_RUN_EXAMPLES,  # CI sees the same examples every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# A render that gets past the loader runs the whole program: fewer examples keep CI in seconds.
RENDER_FUZZ = settings(FUZZ, max_examples=LONG_RUN_EXAMPLES or 60)

# Problems of the whole file, which have no line.
WHOLE_FILE = ("the file is ", "the file name is not a stack name", "cannot read")

STACK = """\
kind: FivetranConnector
metadata:
  name: events-s3
spec:
  groupId: warehouse
  service: s3
  destinationSchema: {name: s3_events, table: events}
  config:
    bucket: acme-events
    prefix: "exports/"
  schedule: {syncFrequency: 1440, dailySyncTime: "03:00"}
---
kind: DomainPool
metadata: {name: apps}
spec: {baseDomain: apps.corp.com, clusterIssuer: letsencrypt}
"""

TOKENS = [
    *("kind: ", "FivetranConnector", "DomainPool", "metadata:", "spec:", "name: a", "config:"),
    *("{", "}", "[", "]", ", ", ": ", ":", "- ", "? ", "\n", "  ", "    ", "\t", "---\n", "...\n", "#"),
    *("&a ", "&b ", "*a", "*b", "<<: ", "<<: *a", "!", "!!int ", "!!str ", "!!binary ", "!!timestamp "),
    *("!!set ", "!!omap ", "!!bool ", "!!float ", "!foo ", "!!python/object:os.system ", "%YAML 1.1\n"),
    *('"', "'", "|", ">-", "\\", "\\U", "\\u", "\\x", "\\0", "\\e", "FFFFFFFF", "0010FFFF", "d800", "dfff"),
    *("0x", "0b", "0o", "1:20:30", "2020-13-45", "2001-12-14t21:59:43.10-05:00", ".nan", "-.inf", "1e999"),
    *("~", "null", "yes", "on", "=", "9" * 120, "1" * 4400, "\r", "\r\n", "\x85", "\u2028", "\ufeff"),
    *("\x00", "\x07", "\x7f", "\ufffe", "é", "😀", "vault://kv/x#y", "vault://"),
]
yamlish = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)), max_size=40).map("".join)


@st.composite
def spliced(draw: st.DrawFn) -> str:
    """The example stack with YAML-ish text put in at a few places, replacing a little of it."""
    text = STACK
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 8))
        text = text[:at] + draw(yamlish) + text[at + cut :]
    return text


def nested(depth: int, shape: str) -> str:
    if shape == "flow":
        return "[" * depth + "1" + "]" * depth
    if shape == "flow-map":
        return "{a: " * depth + "1" + "}" * depth
    if shape == "block-map":
        return (
            "\n"
            + "".join(f"{'  ' * (level + 2)}k{level}:\n" for level in range(depth))
            + "  " * (depth + 2)
            + "1"
        )
    return "\n    " + "- " * depth + "1"  # block sequences, all on one line


def laughs(levels: int, width: int) -> str:
    lines = [f"  l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n" + "\n".join(lines)


config_values = st.one_of(
    yamlish,
    st.text().map(json.dumps),  # JSON strings are double-quoted YAML, with escapes of every kind
    st.tuples(st.integers(1, 1000), st.sampled_from(["flow", "flow-map", "block-map", "block-seq"])).map(
        lambda args: nested(*args)
    ),
    st.integers(1, 6000).map(lambda digits: "7" * digits),
    st.tuples(st.integers(1, 12), st.integers(1, 12)).map(lambda args: laughs(*args)),
)
configured = config_values.map(lambda value: STACK.replace("bucket: acme-events", f"bucket: {value}"))

stack_texts = st.one_of(yamlish, spliced(), configured)
stack_bytes = st.one_of(
    st.binary(max_size=2000),
    stack_texts.map(lambda text: text.encode("utf-8", "surrogatepass")),
    stack_texts.map(lambda text: text.encode("utf-16", "surrogatepass")),
    stack_texts.map(lambda text: text.encode("utf-16-le", "surrogatepass")),
)


@pytest.fixture(scope="module")
def stack_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.yaml"


def assert_documents_or_located_errors(load, filename: str, text_lines: int) -> None:
    try:
        stack = load()
    except StackFileError as exc:
        errors = exc.errors
    else:
        assert isinstance(stack, StackDocuments)
        return
    assert errors, "a rejected file names at least one problem"
    for error in errors:
        assert_located(error, filename, text_lines)


def assert_located(error: SpecError, filename: str, text_lines: int) -> None:
    assert error.file == filename
    assert error.message
    if error.line is None:
        assert error.message.startswith(WHOLE_FILE), f"only a whole-file problem has no line: {error}"
    else:
        assert 1 <= error.line <= text_lines, f"line {error.line} is not in the file: {error}"


def line_count(data: bytes) -> int:
    """Lines as YAML counts them (also at CR, NEL, LS, PS), which is at least as many as bytes show."""
    text = data.decode("utf-8", "replace")
    return (
        text.count("\n")
        + text.count("\r")
        + text.count("\x85")
        + text.count("\u2028")
        + text.count("\u2029")
        + 2
    )


@FUZZ
@given(data=stack_bytes)
def test_any_bytes_as_a_stack_file_load_or_fail_located(stack_file: Path, data: bytes):
    stack_file.write_bytes(data)
    assert_documents_or_located_errors(lambda: load_stack_file(stack_file), str(stack_file), line_count(data))


@FUZZ
@given(text=st.one_of(st.text(), stack_texts))
def test_any_text_loads_or_fails_located(text: str):
    # Text handed over directly may hold what no file decodes to (lone surrogates): still no crash.
    lines = line_count(text.encode("utf-8", "surrogatepass"))
    assert_documents_or_located_errors(
        lambda: load_stack_text(text, "stacks/fuzz.yaml"), "stacks/fuzz.yaml", lines
    )


@RENDER_FUZZ
@given(data=st.one_of(stack_bytes, configured.map(str.encode)))
def test_render_of_any_stack_file_prints_errors_and_exits_1_never_a_traceback(stack_file: Path, data: bytes):
    stack_file.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["render", "--file", str(stack_file), "--format", "json"])
    rendered = json.loads(out.getvalue())
    assert code == (0 if not rendered["problems"] else 1)
    assert "Traceback" not in err.getvalue()
    errors = [line for line in err.getvalue().splitlines() if line.startswith("error: ")]
    assert len(errors) == len(rendered["problems"])
    for problem in rendered["problems"]:
        if "file" in problem:  # a problem of the stack file, not of a rendered object
            assert problem["file"] == str(stack_file)
            line_ok = problem["line"] is None and problem["message"].startswith(WHOLE_FILE)
            assert line_ok or 1 <= problem["line"] <= line_count(data), problem
