"""Input the loader refuses instead of crashing or exhausting the machine: one test per class.

Each of these inputs used to end in a traceback (OverflowError, UnicodeDecodeError, ReaderError,
RecursionError, ValueError, a segfault in libyaml) or in gigabytes of memory; now each is a
:class:`StackFileError` naming the file and, where there is one, the line.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from components.documents import (
    MAX_FILE_BYTES,
    MAX_INTEGER_DIGITS,
    MAX_NESTING,
    MAX_VALUES,
    StackFileError,
    load_stack_bytes,
    load_stack_file,
    load_stack_text,
)

FILE = "stacks/prod.yaml"
PROJECT = Path(__file__).resolve().parents[2]


def errors_of(text: str) -> list[str]:
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, FILE)
    return [str(error) for error in caught.value.errors]


def byte_errors_of(data: bytes) -> list[str]:
    with pytest.raises(StackFileError) as caught:
        load_stack_bytes(data, FILE)
    return [str(error) for error in caught.value.errors]


def loads(text: str) -> bool:
    """True when ``text`` loads, or fails only for reasons other than the limits under test."""
    try:
        load_stack_text(text, FILE)
    except StackFileError as exc:
        return not any("at most" in e.message for e in exc.errors)
    return True


def fivetran_config(config: str) -> str:
    return (
        "kind: FivetranConnector\nmetadata: {name: s3}\nspec:\n  groupId: g\n  service: s3\n"
        f"  destinationSchema: {{name: x}}\n  config:\n{config}"
    )


# --- escapes in double-quoted strings ------------------------------------------------------------


@pytest.mark.parametrize("escape", ["\\UFFFFFFFF", "\\U00110000"])
def test_an_escape_beyond_unicode_is_an_error_at_its_line(escape: str):
    text = f'kind: WandB\nmetadata: {{name: a}}\nspec:\n  version: "{escape}"\n'
    assert errors_of(text) == [
        f'{FILE}:4: invalid YAML: the escape "{escape}" is not a Unicode character (the last is U+10FFFF)'
    ]


def test_an_escape_cannot_make_a_nul_or_half_a_surrogate_pair():
    text = 'kind: WandB\nmetadata: {name: a}\nspec:\n  version: "4\\0"\n  host: "\\ud800"\n'
    assert errors_of(text) == [
        f"{FILE}:4: spec.version: an escape makes a NUL character (U+0000), which no stack value may hold",
        f"{FILE}:5: spec.host: an escape makes U+D800, half of a UTF-16 surrogate pair and not a "
        'character: write the character itself, or one "\\U" escape for the pair',
    ]


# --- encodings and characters --------------------------------------------------------------------


def test_a_utf16_file_is_rejected_whole_as_not_utf8():
    data = "kind: WandB\nmetadata: {name: a}\n".encode("utf-16")  # with its byte order mark
    assert byte_errors_of(data) == [
        f"{FILE}: the file is UTF-16 (it starts with a UTF-16 byte order mark); a stack file is UTF-8"
    ]


def test_a_utf16_file_without_byte_order_mark_is_located_by_its_nuls():
    errors = byte_errors_of("kind: WandB".encode("utf-16-le"))
    assert errors == [
        f"{FILE}:1: a NUL character (U+0000) at column 2 is not allowed in YAML (a file full of them was "
        "probably saved as UTF-16; a stack file is UTF-8)"
    ]


def test_bytes_that_are_not_utf8_are_located_on_every_line():
    data = b"kind: WandB\nmetadata: {name: \xff}\nspec: {version: caf\xe9}\n"
    assert byte_errors_of(data) == [
        f"{FILE}:2: the byte 0xFF at column 18 is not UTF-8; a stack file is UTF-8",
        f"{FILE}:3: the byte 0xE9 at column 20 is not UTF-8; a stack file is UTF-8",
    ]


def test_control_characters_are_located_on_every_line():
    text = "kind: Wand\x00B\nmetadata: {name: a}\nspec: {version: \x07}\n"
    assert errors_of(text) == [
        f"{FILE}:1: a NUL character (U+0000) at column 11 is not allowed in YAML (a file full of them "
        "was probably saved as UTF-16; a stack file is UTF-8)",
        f"{FILE}:3: the control character U+0007 at column 17 is not allowed in YAML",
    ]


def test_a_file_of_control_characters_reports_ten_lines_and_counts_the_rest():
    errors = errors_of("x: \x01\n" * 25)
    assert len(errors) == 10
    assert errors[0] == f"{FILE}:1: the control character U+0001 at column 4 is not allowed in YAML"
    assert errors[-1] == (
        f"{FILE}:10: the control character U+0001 at column 4 is not allowed in YAML "
        "(and the same on 15 more line(s) after it)"
    )


# --- nesting -------------------------------------------------------------------------------------


def flow(depth: int) -> str:
    return "spec: " + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "\n"


def block(depth: int) -> str:
    return "".join(f"{'  ' * level}k{level}:\n" for level in range(depth)) + "  " * depth + "1\n"


def test_nesting_up_to_the_limit_is_accepted():
    assert MAX_NESTING == 64
    assert loads(flow(MAX_NESTING))  # the document's mapping is the first level
    assert loads(block(MAX_NESTING))


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 991])
def test_deeper_nesting_is_an_error_where_it_passes_the_limit(depth: int):
    assert errors_of(flow(depth)) == [
        f"{FILE}:1: mappings and sequences nest at most 64 levels deep; here they nest deeper"
    ]
    assert errors_of(block(depth)) == [
        f"{FILE}:65: mappings and sequences nest at most 64 levels deep; here they nest deeper"
    ]


def test_an_alias_that_nests_past_the_limit_is_an_error_at_the_alias():
    deep = "[" * 40 + "1" + "]" * 40
    text = f"a: &deep {deep}\nb:\n  c: {'[' * 30}*deep{']' * 30}\n"
    assert errors_of(text) == [
        f"{FILE}:3: mappings and sequences nest at most 64 levels deep; here the alias *deep nests them deeper"
    ]


def test_an_alias_nests_as_deep_as_what_it_names_not_as_what_came_before():
    text = f"a: {'[' * 60}1{']' * 60}\nb: &shallow [1]\nc: {'[' * 50}*shallow{']' * 50}\n"
    assert loads(text)


def test_very_deep_input_never_reaches_libyamls_recursive_composer():
    # libyaml's composer overflowed the C stack on this (a segfault): run it in a process of its own.
    program = textwrap.dedent(
        """
        from components.documents import StackFileError, load_stack_text
        try:
            load_stack_text("a: " + "[" * 300_000, "deep.yaml")
        except StackFileError as exc:
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=PROJECT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == "deep.yaml:1: mappings and sequences nest at most 64 levels deep; here they nest deeper\n"
    )


# --- aliases and values --------------------------------------------------------------------------

# 342 bytes: ten levels of nine aliases each would expand to 9**9 lists of "lol".
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},"
    f"*{previous},*{previous},*{previous}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_billion_laughs_is_refused_at_the_value_limit():
    assert len(BILLION_LAUGHS) < 400
    assert errors_of(BILLION_LAUGHS) == [
        f"{FILE}:6: a stack file holds at most 100,000 values (an alias counts as a copy of all it names); "
        "by here this one holds more"
    ]


def test_values_are_counted_up_to_the_limit_across_the_documents_of_a_file():
    assert MAX_VALUES == 100_000
    half = "- [" + ", ".join(["0"] * (MAX_VALUES // 2 - 2)) + "]\n"  # 1 + 1 + 49,998 values
    assert loads(half + "---\n" + half)  # exactly 100,000
    (error,) = errors_of(half + "---\n" + half + "---\nx\n")
    assert error.startswith(f"{FILE}:5: a stack file holds at most 100,000 values")


def test_an_alias_counts_as_a_copy_of_what_it_names():
    ten_thousand = "[" + ", ".join(["0"] * 9_999) + "]"
    text = f"a: &big {ten_thousand}\nb: [" + ", ".join(["*big"] * 8) + "]\nc: *big\n"
    (error,) = errors_of(text)  # 2 + 10,000, then 2 + 80,000, then 1 + 10,000 values
    assert error.startswith(f"{FILE}:3: a stack file holds at most 100,000 values")


# --- integers ------------------------------------------------------------------------------------


def test_integers_up_to_100_digits_are_read():
    assert MAX_INTEGER_DIGITS == 100
    number = "9" * MAX_INTEGER_DIGITS
    (document,) = load_stack_text(fivetran_config(f"    port: {number}\n"), FILE)
    assert document.spec.config == {"port": int(number)}


@pytest.mark.parametrize(
    ("number", "digits"),
    [("9" * 101, "101"), ("9" * 5000, "5,000"), ("-0x" + "f" * 5000, "5,000"), ("1_0" * 60, "120")],
)
def test_a_longer_integer_is_an_error_at_its_line(number: str, digits: str):
    text = f"kind: WandB\nmetadata: {{name: a}}\nspec:\n  replicas: {number}\n"
    assert errors_of(text) == [
        f"{FILE}:4: spec.replicas: an integer has at most 100 digits; this one has {digits}"
    ]


# --- size and name -------------------------------------------------------------------------------


def test_a_file_up_to_one_mebibyte_is_read(tmp_path: Path):
    stack = tmp_path / "big.yaml"
    stack.write_bytes(b"#" * (MAX_FILE_BYTES - 1) + b"\n")
    assert len(load_stack_file(stack)) == 0


def test_a_larger_file_is_rejected_whole(tmp_path: Path):
    stack = tmp_path / "big.yaml"
    stack.write_bytes(b"#" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(StackFileError) as caught:
        load_stack_file(stack)
    assert [str(e) for e in caught.value.errors] == [
        f"{stack}: the file is larger than 1 MiB, the limit for a stack file"
    ]
    assert errors_of("#" * (MAX_FILE_BYTES - 10) + "é" * 10) == [
        f"{FILE}: the file is larger than 1 MiB, the limit for a stack file"
    ]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("n" * 250, "a stack name has at most 100 characters, this one has 250"),
        ("my stack", "a stack name has only letters, digits, '-', '_' and '.', not 'my stack'"),
        (
            "prod\N{EN DASH}eu",
            "a stack name has only letters, digits, '-', '_' and '.', not 'prod\N{EN DASH}eu'",
        ),
    ],
)
def test_a_file_whose_name_is_no_stack_name_is_rejected(tmp_path: Path, name: str, problem: str):
    stack = tmp_path / f"{name}.yaml"
    stack.write_text("kind: WandB\nmetadata: {name: a}\n", encoding="utf-8")
    with pytest.raises(StackFileError) as caught:
        load_stack_file(stack)
    assert [str(e) for e in caught.value.errors] == [f"{stack}: the file name is not a stack name: {problem}"]


def test_a_stack_name_of_100_characters_is_fine(tmp_path: Path):
    stack = tmp_path / f"{'n' * 100}.yaml"
    stack.write_text("kind: DomainPool\nmetadata: {name: a}\nspec: {baseDomain: a.com, clusterIssuer: x}\n")
    assert len(load_stack_file(stack)) == 1


# --- values that are not JSON --------------------------------------------------------------------


def test_values_are_what_json_holds():
    text = fivetran_config(
        "    since: 2024-01-01\n    blob: !!binary aGk=\n    tags: !!set {a, b}\n    80: http\n    on: true\n"
    )
    assert errors_of(text) == [
        f"{FILE}:8: spec.config.since: an unquoted date or time is a YAML timestamp, which is no stack "
        "value: quote it",
        f"{FILE}:9: spec.config.blob: a !!binary value is no stack value: a stack file holds strings, "
        "numbers, booleans, null, mappings and sequences",
        f"{FILE}:10: spec.config.tags: a !!set value is no stack value: a stack file holds strings, "
        "numbers, booleans, null, mappings and sequences",
        f"{FILE}:11: spec.config.80: the key '80' is read as an integer; a mapping key must be a string: "
        "quote it",
        f"{FILE}:12: spec.config.on: the key 'on' is read as a boolean; a mapping key must be a string: "
        "quote it",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!int abc", "'abc' is not a valid !!int (invalid literal for int() with base 10: 'abc')"),
        ("!!bool maybe", "'maybe' is not a valid !!bool ('maybe')"),
        ("!!float x", "'x' is not a valid !!float (could not convert string to float: 'x')"),
    ],
)
def test_an_explicit_tag_on_a_value_it_cannot_read_is_located(value: str, message: str):
    assert errors_of(f"kind: WandB\nmetadata: {{name: a}}\nspec:\n  replicas: {value}\n") == [
        f"{FILE}:4: invalid YAML: {message}"
    ]
