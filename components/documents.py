"""Stack documents: parse a stack file into typed, validated documents, or say exactly why not.

A stack file is a multi-document YAML stream (``docs/stack-format.md``). Loading is all or
nothing: every problem in the file is collected (broken YAML, unknown kinds, unknown fields, bad
values, duplicate names, references to documents that do not exist) and reported together, each
naming the file, the line, the document's kind/name and the field path. Only a file with no
problem at all yields documents, so a stack with any error is never applied, not even in part.

Any byte string yields documents or a :class:`StackFileError`, never another exception: input past
the limits below (size, nesting, values once aliases are expanded, integer digits, stack name) and
text that is not UTF-8 YAML are errors located like any other.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import Field, ValidationError
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import Resolver

from components.common.spec import DnsLabel, SpecModel

if TYPE_CHECKING:
    from components.registry import KindRegistry

API_VERSION = "driftless.dev/v1alpha1"
FORCE_RECONCILE_ANNOTATION = "driftless.dev/force-reconcile"

FieldPath = tuple[str | int, ...]

# Limits on input (README "Limits"): a stack file is a page of configuration, and past these
# sizes only a mistake or an attack remains; each is refused with a located error, never a crash.
MAX_FILE_BYTES = 1024 * 1024
MAX_NESTING = 64  # mappings and sequences inside one another, aliases expanded
MAX_VALUES = 100_000  # scalars, mappings and sequences of a file, every alias expanded
MAX_INTEGER_DIGITS = 100
MAX_STACK_NAME = 100  # Pulumi's limit for a stack name


@dataclass(frozen=True)
class SpecError:
    """One problem in a stack file, located precisely enough to fix without searching."""

    file: str
    line: int | None  # None only for a problem of the whole file (its name, size or encoding)
    subject: str  # "Kind/name", or "" when the problem precedes any document
    path: str  # dotted field path, "" for the whole document
    message: str

    def __str__(self) -> str:
        parts = [self.file if self.line is None else f"{self.file}:{self.line}"]
        if self.subject:
            parts.append(self.subject)
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class StackFileError(Exception):
    """A stack file was rejected; ``errors`` lists every problem found, in file order.

    ``documents`` holds the documents of the file that did validate, when there is a file: checks
    across stack files, and those that need the program's context, still see them.
    """

    def __init__(self, errors: list[SpecError], documents: StackDocuments | None = None):
        self.errors = sorted(errors, key=lambda e: (e.file, e.line or 0, e.subject, e.path))
        self.documents = documents
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass(frozen=True)
class SpecReference:
    """A field of one document that names another document of the same stack."""

    path: FieldPath  # relative to ``spec``
    kind: str
    name: str


class Metadata(SpecModel):
    """Document metadata, as in a Kubernetes object."""

    name: DnsLabel
    namespace: DnsLabel | None = None
    annotations: dict[str, str] = Field(default_factory=dict)


class _Envelope(SpecModel):
    api_version: Literal["driftless.dev/v1alpha1"] | None = None
    kind: str
    metadata: Metadata
    spec: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """One validated stack document: its identity, its typed spec, and where it came from."""

    kind: str
    metadata: Metadata
    spec: SpecModel
    file: str
    line: int
    lines: Mapping[FieldPath, int] = field(repr=False, compare=False, hash=False)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        """The target namespace for Kubernetes kinds (by default the document name)."""
        return self.metadata.namespace or self.metadata.name

    @property
    def subject(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def force_reconcile_token(self) -> str | None:
        return self.metadata.annotations.get(FORCE_RECONCILE_ANNOTATION)

    def line_of(self, path: FieldPath) -> int:
        """The line of ``path`` (absolute, e.g. ``("spec", "indexer")``), or of its nearest parent."""
        return _nearest_line(self.lines, path, self.line)

    def error(self, path: FieldPath, message: str) -> SpecError:
        """A problem with the field at ``path``, located at its line: what every check reports."""
        return SpecError(self.file, self.line_of(path), self.subject, _dotted(path), message)


@dataclass(frozen=True)
class StackDocuments:
    """Every document of one stack file, in file order."""

    file: str
    documents: tuple[Document, ...]

    def __iter__(self) -> Iterator[Document]:
        return iter(self.documents)

    def __len__(self) -> int:
        return len(self.documents)

    def of_kind(self, kind: str) -> tuple[Document, ...]:
        return tuple(d for d in self.documents if d.kind == kind)

    def get(self, kind: str, name: str) -> Document | None:
        return next((d for d in self.documents if d.kind == kind and d.name == name), None)


def load_stack_file(path: str | Path, registry: KindRegistry | None = None) -> StackDocuments:
    """Parse and validate a stack file; raise :class:`StackFileError` listing every problem.

    The file's name without its extension is the stack's name, so it must be a valid one.
    """
    path = Path(path)
    filename = str(path)
    problem = stack_name_problem(path.stem)
    if problem is not None:
        raise StackFileError(
            [SpecError(filename, None, "", "", f"the file name is not a stack name: {problem}")]
        )
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StackFileError([SpecError(filename, None, "", "", f"cannot read: {reason}")]) from exc
    return load_stack_bytes(data, filename, registry)


def load_stack_bytes(data: bytes, filename: str, registry: KindRegistry | None = None) -> StackDocuments:
    """Parse and validate the bytes of a stack file, which must be UTF-8; ``filename`` is for messages."""
    return load_stack_text(_decode(data, filename), filename, registry)


def load_stack_text(text: str, filename: str, registry: KindRegistry | None = None) -> StackDocuments:
    """Parse and validate stack documents from text; ``filename`` is used in messages."""
    if registry is None:
        from components.registry import default_registry

        registry = default_registry()
    return _load(text, filename, registry)


_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def stack_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a stack (Pulumi's rule, which also keeps file names short), or None."""
    if len(name) > MAX_STACK_NAME:
        return f"a stack name has at most {MAX_STACK_NAME} characters, this one has {len(name)}"
    if not _STACK_NAME.fullmatch(name):
        return f"a stack name has only letters, digits, '-', '_' and '.', not {name!r}"
    return None


# Documents are immutable, so the same text loads once per process: the daemon re-reads every
# stack file each cycle and the renderer loads a file before the program loads it again.
@lru_cache(maxsize=1024)
def _load(text: str, filename: str, registry: KindRegistry) -> StackDocuments:
    errors = _unreadable_text(text, filename)
    if errors:
        raise StackFileError(errors)
    raw_documents = _parse_yaml(text, filename, errors)
    valid: list[Document] = []  # every value valid: what the program gets
    checked: list[Document] = []  # also those with invalid values left out: what the checks see
    left_out: dict[str, tuple[str, ...]] = {}  # subject -> its spec fields left out
    defined: dict[tuple[str, str], int] = {}  # (kind, name) -> line, every document with valid metadata
    for data, lines, start_line in raw_documents:
        validated = _validate_document(data, lines, start_line, filename, registry, errors)
        if validated is None:
            continue
        key = (validated.kind, validated.metadata.name)
        if key in defined:
            errors.append(
                SpecError(
                    filename,
                    _nearest_line(validated.lines, ("metadata", "name"), validated.line),
                    validated.subject,
                    "metadata.name",
                    f"duplicate document: {validated.subject} is already defined at line {defined[key]}",
                )
            )
            continue
        defined[key] = validated.line
        document = validated.document(filename)
        if document is None:
            continue
        checked.append(document)
        if validated.left_out:
            left_out[document.subject] = validated.left_out
        else:
            valid.append(document)

    # Rules across documents see every document with valid metadata, so that their errors come
    # with the documents' own: one with errors in its spec as if its invalid values were left out
    # (defaults in their place), and what a rule then says about those fields is not reported.
    # Only a document missing a required value is left out of them.
    stack = StackDocuments(filename, tuple(checked))
    found = list(_check_references(stack, defined))
    for registration in registry.registrations():
        if registration.check_stack is not None:
            found.extend(registration.check_stack(stack))
    found.extend(_check_created_namespaces(stack, registry, [*errors, *found]))
    found.extend(_check_namespace_ownership(stack, registry, [*errors, *found]))
    errors.extend(e for e in found if not _within(e.path, left_out.get(e.subject, ())))
    if errors:
        raise StackFileError(errors, StackDocuments(filename, tuple(valid)))
    return stack


def _within(path: str, fields: Iterable[str]) -> bool:
    """Whether the dotted ``path`` is one of ``fields`` or inside one."""
    return any(path == f or path.startswith((f"{f}.", f"{f}[")) for f in fields)


def _check_namespace_ownership(
    stack: StackDocuments, registry: KindRegistry, reported: list[SpecError]
) -> list[SpecError]:
    """System namespaces and namespaces another document reads from (``components.ownership``)."""
    from components.ownership import check_stack_namespaces  # it builds on this module

    return list(check_stack_namespaces(stack, registry, reported))


# --- bytes and characters ---------------------------------------------------------------------

_BYTE_ORDER_MARKS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
# What YAML lets a file hold: tab, line breaks and printable characters (no C0/C1 controls, no
# surrogates, no U+FFFE/U+FFFF). Undecodable bytes become U+DC80..U+DCFF, so they match too.
_NOT_YAML_CHARACTER = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_UNDECODED_BYTE = re.compile("[\udc80-\udcff]")
# Line breaks as YAML counts them, so that these lines agree with the parser's.
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_REPORTED_LINES = 10


def _decode(data: bytes, filename: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise StackFileError([_too_large(filename)])
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            raise StackFileError(
                [
                    SpecError(
                        filename,
                        None,
                        "",
                        "",
                        f"the file is {encoding} (it starts with a {encoding} "
                        "byte order mark); a stack file is UTF-8",
                    )
                ]
            )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "surrogateescape")
    raise StackFileError(
        _characters_by_line(
            text,
            _UNDECODED_BYTE,
            filename,
            lambda char, column: (
                f"the byte 0x{ord(char) - 0xDC00:02X} at column {column} is not UTF-8; a stack file is UTF-8"
            ),
        )
    )


def _unreadable_text(text: str, filename: str) -> list[SpecError]:
    too_large = len(text) > MAX_FILE_BYTES or (
        len(text) > MAX_FILE_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES
    )
    if too_large:
        return [_too_large(filename)]
    return _characters_by_line(text, _NOT_YAML_CHARACTER, filename, _character_problem)


def _too_large(filename: str) -> SpecError:
    return SpecError(
        filename,
        None,
        "",
        "",
        f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB, the limit for a stack file",
    )


def _character_problem(char: str, column: int) -> str:
    code = f"U+{ord(char):04X}"
    if char == "\0":
        return (
            f"a NUL character ({code}) at column {column} is not allowed in YAML (a file full of them "
            "was probably saved as UTF-16; a stack file is UTF-8)"
        )
    if "\ud800" <= char <= "\udfff":
        return f"{code} at column {column} is half of a UTF-16 surrogate pair, not a character"
    if char in "\ufffe\uffff":
        return f"{code} at column {column} is not a character"
    return f"the control character {code} at column {column} is not allowed in YAML"


def _escaped_character_problem(char: str) -> str:
    if char == "\0":
        return "an escape makes a NUL character (U+0000), which no stack value may hold"
    return (
        f"an escape makes U+{ord(char):04X}, half of a UTF-16 surrogate pair and not a character: "
        'write the character itself, or one "\\U" escape for the pair'
    )


def _characters_by_line(
    text: str, pattern: re.Pattern[str], filename: str, describe: Callable[[str, int], str]
) -> list[SpecError]:
    """One error for each line holding a character ``pattern`` matches: the first such character."""
    errors: list[SpecError] = []
    line, counted, last_line, more_lines = 1, 0, 0, 0
    for match in pattern.finditer(text):
        line += len(_LINE_BREAK.findall(text, counted, match.start()))
        counted = match.start()
        if line == last_line:
            continue
        last_line = line
        if len(errors) == _REPORTED_LINES:
            more_lines += 1
            continue
        column = match.start() - max(text.rfind(b, 0, match.start()) for b in "\n\r\x85\u2028\u2029")
        errors.append(SpecError(filename, line, "", "", describe(match.group(), column)))
    if more_lines:
        last = errors[-1]
        errors[-1] = SpecError(
            filename,
            last.line,
            "",
            "",
            f"{last.message} (and the same on {more_lines} more line(s) after it)",
        )
    return errors


# --- YAML with line numbers -------------------------------------------------------------------


def _parse_yaml(
    text: str, filename: str, errors: list[SpecError]
) -> list[tuple[Any, dict[FieldPath, int], int]]:
    """Each document's data, a map from field path to 1-based line, and its first line.

    libyaml (when PyYAML has it) parses several times faster; a file with any problem is parsed
    again in pure Python, whose error positions the messages are written for. Input past a limit
    is not: the pure-Python parser is slow enough on a megabyte that the refusal would cost more
    than the input is worth, and the limits are located by the same nodes either way.
    """
    if _FastLoader is not None:
        fast_errors: list[SpecError] = []
        parsed, refused = _parse_yaml_with(_FastLoader, text, filename, fast_errors)
        if not fast_errors:
            return parsed
        if refused:
            errors.extend(fast_errors)
            return []
    return _parse_yaml_with(_ExactLoader, text, filename, errors)[0]


def _parse_yaml_with(
    loader_class: Any, text: str, filename: str, errors: list[SpecError]
) -> tuple[list[tuple[Any, dict[FieldPath, int], int]], bool]:
    """The documents parsed, and whether the parse stopped at a limit."""
    loader = loader_class(text)
    parsed: list[tuple[Any, dict[FieldPath, int], int]] = []
    refused = False
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            index = _LineIndex(filename, errors)
            try:
                _index_lines(node, (), index)
            except _UnloadableError:
                continue
            if index.constructible:
                parsed.append((loader.construct_document(node), index.lines, node.start_mark.line + 1))
    except _RefusedError as exc:
        errors.append(SpecError(filename, exc.line, "", "", exc.message))
        refused = True
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "<stream end>" in (exc.problem or ""):
            mark = exc.context_mark  # an unclosed bracket: point at where it was opened
        line = mark.line + 1 if mark else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        errors.append(SpecError(filename, line, "", "", f"invalid YAML: {problem}"))
    except yaml.YAMLError as exc:
        errors.append(SpecError(filename, _reader_line(loader), "", "", f"invalid YAML: {exc}"))
    except (ValueError, OverflowError) as exc:
        # The pure-Python scanner hands the digits of an escape to chr() unchecked.
        errors.append(
            SpecError(filename, _reader_line(loader), "", "", f"invalid YAML: {_escape_problem(loader, exc)}")
        )
    except Exception as exc:  # noqa: BLE001 (whatever else input provokes is reported, never raised)
        errors.append(
            SpecError(
                filename, _reader_line(loader), "", "", f"cannot read this YAML: {type(exc).__name__}: {exc}"
            )
        )
    finally:
        loader.dispose()
    return parsed, refused


def _reader_line(loader: Any) -> int | None:
    line = getattr(loader, "line", None)  # the pure-Python reader's position; libyaml's is not exposed
    return line + 1 if isinstance(line, int) else None


def _escape_problem(loader: Any, exc: Exception) -> str:
    buffer, pointer = getattr(loader, "buffer", ""), getattr(loader, "pointer", 0)
    escape = re.match(r"[0-9A-Fa-f]+", buffer[pointer : pointer + 8])
    if pointer > 0 and buffer[pointer - 1] in "xuU" and escape:
        escaped = f"\\{buffer[pointer - 1]}{escape.group()}"
        return f'the escape "{escaped}" is not a Unicode character (the last is U+10FFFF)'
    return str(exc)


class _RefusedError(Exception):
    """Input past a limit: the parse stops here, before the input costs more."""

    def __init__(self, mark: Any, message: str):
        super().__init__(message)
        self.line = mark.line + 1 if mark is not None else None
        self.message = message


class _Bounded(Composer):
    """PyYAML's composer and constructor, refusing input past the limits instead of crashing.

    Values are counted as they are composed, an alias as a copy of all it names: the parser shares
    the aliased node, but everything after it (line index, validation, rendering) walks every copy,
    so a few hundred bytes of nested aliases would cost gigabytes. Nesting is limited to keep every
    recursive walk far from Python's recursion limit, and because libyaml's own composer overflows
    the C stack on deep input (``_FastLoader`` uses libyaml's parser with this composer).
    """

    def _start_limits(self) -> None:
        self._values = 0  # in the file so far
        self._nesting = 0  # mappings and sequences open around the next node
        self._deepest = 0  # the deepest level reached since the innermost open one opened
        self._measures: dict[int, tuple[int, int]] = {}  # id(node) -> (values, levels), per document

    def compose_document(self) -> Any:
        root: Any = super().compose_document()
        self._measures.clear()
        return root

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[attr-defined]
        node: Any
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            # A collection named from inside itself is incomplete: a cycle, which _index_lines reports.
            values, levels = self._measures.get(id(node), (1, 0))
            self._reach(self._nesting + levels, event.start_mark, f"the alias *{event.anchor} nests them")
            self._count(values, event.start_mark)
            return node
        if not isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            node = super().compose_node(parent, index)
            self._count(1, event.start_mark)
            return node
        self._reach(self._nesting + 1, event.start_mark, "they nest")
        values_before, deepest_outside = self._values, self._deepest
        self._count(1, event.start_mark)
        self._nesting += 1
        self._deepest = self._nesting
        try:
            node = super().compose_node(parent, index)
        finally:
            self._nesting -= 1
        self._measures[id(node)] = (self._values - values_before, self._deepest - self._nesting)
        self._deepest = max(self._deepest, deepest_outside)
        return node

    def _reach(self, level: int, mark: Any, what: str) -> None:
        if level > MAX_NESTING:
            raise _RefusedError(
                mark,
                f"mappings and sequences nest at most {MAX_NESTING} levels deep; here {what} deeper",
            )
        self._deepest = max(self._deepest, level)

    def _count(self, values: int, mark: Any) -> None:
        self._values += values
        if self._values > MAX_VALUES:
            raise _RefusedError(
                mark,
                f"a stack file holds at most {MAX_VALUES:,} values (an alias counts as a copy of all it "
                "names); by here this one holds more",
            )

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except yaml.YAMLError:
            raise
        except Exception as exc:  # an explicit tag on a value it cannot read: !!int x
            raise ConstructorError(
                None, None, f"{_shown(node)} is not a valid {_short_tag(node.tag)} ({exc})", node.start_mark
            ) from exc


class _ExactLoader(_Bounded, yaml.SafeLoader):
    def __init__(self, stream: str):
        yaml.SafeLoader.__init__(self, stream)
        self._start_limits()


_FastLoader: type | None = None
if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _LibyamlLoader(_Bounded, CParser, SafeConstructor, Resolver):
        def __init__(self, stream: str):
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._start_limits()

    _FastLoader = _LibyamlLoader


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        value = str(node.value)
        return repr(value if len(value) <= 40 else value[:40] + "...")
    return "this mapping" if isinstance(node, yaml.MappingNode) else "this sequence"


@dataclass
class _LineIndex:
    """What the walk over one document's nodes found: lines by field path, and problems."""

    filename: str
    errors: list[SpecError]
    lines: dict[FieldPath, int] = field(default_factory=dict)
    constructible: bool = True  # False when a scalar would not become a value safely

    def refuse(self, node: yaml.Node, path: FieldPath, message: str) -> None:
        self.errors.append(SpecError(self.filename, node.start_mark.line + 1, "", _dotted(path), message))
        self.constructible = False


_YAML_TAG = "tag:yaml.org,2002:"
_INTEGER_TAG = _YAML_TAG + "int"
# A stack document holds what JSON holds, as Kubernetes manifests do: the program hands its values
# to Pulumi, which cannot carry a date, bytes or a set (and keyword arguments need string keys).
_READ_AS = {"int": "an integer", "float": "a number", "bool": "a boolean", "null": "null"}
_VALUE_TAGS = {_YAML_TAG + name for name in ("str", *_READ_AS)}
_KEY_TAGS = {_YAML_TAG + "str", _YAML_TAG + "merge"}  # merge: "<<", which the constructor resolves
# Characters a double-quoted escape can make that no stack value may hold.
_NOT_A_VALUE_CHARACTER = re.compile("[\0\ud800-\udfff]")


def _index_lines(
    node: yaml.Node,
    path: FieldPath,
    index: _LineIndex,
    ancestors: frozenset[int] = frozenset(),
) -> None:
    index.lines[path] = node.start_mark.line + 1
    if id(node) in ancestors:  # an alias that contains itself would never end
        index.errors.append(
            SpecError(
                index.filename, node.start_mark.line + 1, "", _dotted(path), "a YAML alias refers to itself"
            )
        )
        raise _UnloadableError
    if isinstance(node, yaml.ScalarNode):
        _check_scalar(node, path, index)
        return
    ancestors = ancestors | {id(node)}
    expected = _YAML_TAG + ("map" if isinstance(node, yaml.MappingNode) else "seq")
    if node.tag != expected:
        index.refuse(node, path, _not_a_stack_value(node.tag))
    if isinstance(node, yaml.MappingNode):
        seen_keys: set[Any] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                index.errors.append(
                    SpecError(
                        index.filename,
                        key_node.start_mark.line + 1,
                        "",
                        _dotted(path),
                        "a mapping key must be a string",
                    )
                )
                raise _UnloadableError
            key = key_node.value
            if key_node.tag not in _KEY_TAGS:
                read_as = _READ_AS.get(key_node.tag.removeprefix(_YAML_TAG), f"a {_short_tag(key_node.tag)}")
                index.refuse(
                    key_node,
                    (*path, key),
                    f"the key {key!r} is read as {read_as}; a mapping key must be a string: quote it",
                )
            elif key_node.tag == _YAML_TAG + "str":
                _check_scalar(key_node, (*path, key), index)
            if key in seen_keys:
                index.errors.append(
                    SpecError(
                        index.filename,
                        key_node.start_mark.line + 1,
                        "",
                        _dotted((*path, key)),
                        "duplicate key in YAML mapping",
                    )
                )
            seen_keys.add(key)
            _index_lines(value_node, (*path, key), index, ancestors)
            index.lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index_lines(item, (*path, position), index, ancestors)


def _check_scalar(node: yaml.ScalarNode, path: FieldPath, index: _LineIndex) -> None:
    if node.tag not in _VALUE_TAGS:
        index.refuse(node, path, _not_a_stack_value(node.tag))
    elif node.tag == _INTEGER_TAG:
        # int() refuses more than 4,300 decimal digits, and a sexagesimal 1:2:3:... costs quadratic time
        digits = sum(char.isalnum() for char in node.value)
        if node.value.lstrip("+-")[:2].lower() in {"0x", "0o", "0b"}:
            digits -= 2
        if digits > MAX_INTEGER_DIGITS:
            index.refuse(
                node, path, f"an integer has at most {MAX_INTEGER_DIGITS} digits; this one has {digits:,}"
            )
    bad = _NOT_A_VALUE_CHARACTER.search(node.value)
    if bad:
        index.refuse(node, path, _escaped_character_problem(bad.group()))


def _not_a_stack_value(tag: str) -> str:
    if tag == _YAML_TAG + "timestamp":
        return "an unquoted date or time is a YAML timestamp, which is no stack value: quote it"
    return (
        f"a {_short_tag(tag)} value is no stack value: a stack file holds strings, numbers, booleans, "
        "null, mappings and sequences"
    )


class _UnloadableError(Exception):
    """A document that cannot be turned into data (already reported in ``errors``)."""


def _nearest_line(lines: Mapping[FieldPath, int], path: FieldPath, default: int) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return default


# --- validation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Validated:
    """A document whose kind and metadata are valid, and as much of its spec as is."""

    kind: str
    metadata: Metadata
    line: int
    lines: Mapping[FieldPath, int]
    spec: SpecModel | None  # None when a required value is wrong: nothing to check the rest with
    left_out: tuple[str, ...]  # the spec fields (dotted) left out of ``spec`` for their errors

    @property
    def subject(self) -> str:
        return f"{self.kind}/{self.metadata.name}"

    def document(self, filename: str) -> Document | None:
        if self.spec is None:
            return None
        return Document(self.kind, self.metadata, self.spec, filename, self.line, self.lines)


def _validate_document(
    data: Any,
    lines: dict[FieldPath, int],
    start_line: int,
    filename: str,
    registry: KindRegistry,
    errors: list[SpecError],
) -> _Validated | None:
    if data is None:
        return None  # an empty document between two '---' separators
    if not isinstance(data, dict):
        errors.append(SpecError(filename, start_line, "", "", "a document must be a mapping"))
        return None

    subject = _subject_of(data)
    try:
        envelope: _Envelope | None = _Envelope.model_validate(data)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, (), lines, start_line, filename, subject))
        envelope = None

    kind = data.get("kind")
    registration = registry.get(kind) if isinstance(kind, str) else None
    if isinstance(kind, str) and registration is None:
        errors.append(
            SpecError(
                filename,
                _nearest_line(lines, ("kind",), start_line),
                subject,
                "kind",
                f"unknown kind {kind!r}; known kinds: {', '.join(registry.kinds())}",
            )
        )
    if registration is None:
        return None
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and metadata.get("namespace") is not None and not registration.namespaced:
        errors.append(
            SpecError(
                filename,
                _nearest_line(lines, ("metadata", "namespace"), start_line),
                subject,
                "metadata.namespace",
                f"{kind} is not namespaced; remove metadata.namespace",
            )
        )
        envelope = None
    # The spec is checked even when the envelope is not, so one pass reports every problem.
    raw_spec = data.get("spec")
    raw_spec = {} if raw_spec is None else raw_spec
    left_out: tuple[str, ...] = ()
    try:
        spec: SpecModel | None = registration.spec_model.model_validate(raw_spec)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, ("spec",), lines, start_line, filename, subject))
        spec, left_out = _without_invalid_values(registration.spec_model, raw_spec, exc)
    except Exception as exc:  # noqa: BLE001 (a validator's own bug must not crash the loader on odd input)
        message = f"cannot be checked, a bug in driftless ({type(exc).__name__}: {exc}); please report it"
        errors.append(
            SpecError(filename, _nearest_line(lines, ("spec",), start_line), subject, "spec", message)
        )
        return None
    if envelope is None:
        return None
    return _Validated(registration.kind, envelope.metadata, start_line, lines, spec, left_out)


def _without_invalid_values(
    model: type[SpecModel], raw_spec: Any, error: ValidationError
) -> tuple[SpecModel | None, tuple[str, ...]]:
    """The spec with every value an error is in left out, and the spec fields (dotted) left out.

    No spec when that leaves out a required value, or the spec as a whole: then nothing is left to
    check the rest of the document with. Errors found on the way are not reported: leaving a value
    out can break a rule that holds once the value is fixed.
    """
    if not isinstance(raw_spec, dict):
        return None, ()
    data = copy.deepcopy(raw_spec)
    fields: set[str] = set()
    for _ in range(MAX_NESTING):  # each round leaves out at least one more value
        entries = [_innermost_entry(data, e["loc"]) for e in error.errors()]
        for entry in entries:
            if entry is None:
                return None, ()
            mapping, key = entry
            mapping.pop(key, None)
        fields.update(str(e["loc"][0]) for e in error.errors())
        try:
            return model.model_validate(data), tuple(sorted(_dotted(("spec", f)) for f in fields))
        except ValidationError as again:
            error = again
        except Exception:  # noqa: BLE001 (a validator's own bug, on what is left: nothing to check with)
            return None, ()
    return None, ()


def _innermost_entry(data: dict[str, Any], loc: tuple[str | int, ...]) -> tuple[dict[str, Any], str] | None:
    """The innermost mapping entry on ``loc`` that exists: the wrong value itself, else what holds it
    (the mapping a required key is missing from, the list a wrong item is in); None at the top."""
    entry: tuple[dict[str, Any], str] | None = None
    node: Any = data
    for step in loc:
        if isinstance(node, dict) and isinstance(step, str) and step in node:
            entry = (node, step)
        elif not (isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)):
            break
        node = node[step]
    return entry


def one_namespace_each(kind: str, why: str) -> Callable[[StackDocuments], Iterator[SpecError]]:
    """A stack check: no two documents of ``kind`` target the same namespace (``why`` says why)."""

    def check(stack: StackDocuments) -> Iterator[SpecError]:
        owners: dict[str, Document] = {}
        for document in stack.of_kind(kind):
            first = owners.setdefault(document.namespace, document)
            if first is not document:
                yield document.error(
                    namespace_path(document),
                    f"namespace {document.namespace!r} already belongs to {first.subject} "
                    f"(line {first.line}); {why}",
                )

    return check


def creates_its_namespace(document: Document) -> str:
    """A ``creates_namespace`` for kinds that always create their target namespace."""
    return document.namespace


def creates_its_namespace_unless_disabled(document: Document) -> str | None:
    """A ``creates_namespace`` for kinds whose spec has a ``createNamespace`` switch."""
    create = getattr(document.spec, "create_namespace", None)
    if not isinstance(create, bool):
        raise TypeError(f"{document.subject}: {type(document.spec).__name__} has no createNamespace field")
    return document.namespace if create else None


def namespace_path(document: Document) -> tuple[str, str]:
    """Where a document's namespace is written: metadata.namespace, or metadata.name by default."""
    return ("metadata", "namespace") if document.metadata.namespace else ("metadata", "name")


def _check_created_namespaces(
    stack: StackDocuments, registry: KindRegistry, reported: Iterable[SpecError]
) -> Iterator[SpecError]:
    """No two documents, of any kinds, create the same namespace.

    Both would register a Namespace object of one name: the second create fails, and deleting
    either document deletes the namespace with everything the other put in it. A document that
    only *uses* a namespace (``createNamespace: false``) may share it. A problem a kind's own rule
    already reported at the same place (``one_namespace_each``) is not repeated.
    """
    already = {(e.file, e.line, e.subject, e.path) for e in reported}
    creators: dict[str, Document] = {}
    for document in stack:
        registration = registry.get(document.kind)
        if registration is None or registration.creates_namespace is None:
            continue
        namespace = registration.creates_namespace(document)
        if namespace is None:
            continue
        first = creators.setdefault(namespace, document)
        if first is document:
            continue
        path = namespace_path(document)
        line = document.line_of(path)
        if (document.file, line, document.subject, _dotted(path)) in already:
            continue
        switch = "create_namespace" in type(document.spec).model_fields
        yield SpecError(
            document.file,
            line,
            document.subject,
            _dotted(path),
            f"namespace {namespace!r} is already created by {first.subject} (line {first.line}); "
            "a namespace can be created by one document only, since deleting that document deletes "
            "the namespace and everything in it: use another namespace"
            + (", or set createNamespace: false to share it" if switch else ""),
        )


def references_of(document: Document) -> Iterable[SpecReference]:
    """The documents of its stack that ``document`` names (``references()`` of its spec)."""
    references = getattr(document.spec, "references", None)
    return () if references is None else references()


def _check_references(stack: StackDocuments, defined: Collection[tuple[str, str]]) -> Iterable[SpecError]:
    """Every reference names a document of the stack (``defined``: kind and name, valid or not)."""
    for document in stack:
        for reference in references_of(document):
            if (reference.kind, reference.name) not in defined:
                yield document.error(
                    ("spec", *tuple(reference.path)),
                    f"{reference.kind} {reference.name!r} is not defined in this stack",
                )


def _subject_of(data: dict[str, Any]) -> str:
    kind = data.get("kind")
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{kind if isinstance(kind, str) else '?'}/{name if isinstance(name, str) else '?'}"


def _pydantic_errors(
    exc: ValidationError,
    prefix: FieldPath,
    lines: Mapping[FieldPath, int],
    start_line: int,
    filename: str,
    subject: str,
) -> list[SpecError]:
    found = []
    for error in exc.errors():
        path = prefix + tuple(loc for loc in error["loc"] if not _is_union_tag(loc))
        found.append(
            SpecError(
                filename,
                _nearest_line(lines, path, start_line),
                subject,
                _dotted(path),
                _message(error),
            )
        )
    return found


def _is_union_tag(loc: str | int) -> bool:
    # pydantic inserts the member type ("str", "function-after[...]") into union error paths
    return isinstance(loc, str) and (loc in {"str", "int", "float", "bool", "dict", "list"} or "[" in loc)


_PYDANTIC_PREFIX = re.compile(r"^(Value|Assertion) error, ")


def _message(error: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "greater_than":
        return f"must be > {ctx['gt']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind == "less_than":
        return f"must be < {ctx['lt']}"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    return _PYDANTIC_PREFIX.sub("", str(error["msg"]))


def _dotted(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
