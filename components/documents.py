"""Stack documents: parse a stack file into typed, validated documents, or say exactly why not.

A stack file is a multi-document YAML stream (SPEC §1). Loading is all or nothing: every problem in
the file is collected (broken YAML, unknown kinds, unknown fields, bad values, duplicate names,
references to documents that do not exist) and reported together, each naming the file, the line,
the document's kind/name and the field path. Only a file with no problem at all yields documents,
so a stack with any error is never applied, not even in part.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import Field, ValidationError

from components.common.spec import DnsLabel, SpecModel

if TYPE_CHECKING:
    from components.registry import KindRegistry

API_VERSION = "driftless.dev/v1alpha1"
FORCE_RECONCILE_ANNOTATION = "driftless.dev/force-reconcile"

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class SpecError:
    """One problem in a stack file, located precisely enough to fix without searching."""

    file: str
    line: int
    subject: str  # "Kind/name", or "" when the problem precedes any document
    path: str  # dotted field path, "" for the whole document
    message: str

    def __str__(self) -> str:
        parts = [f"{self.file}:{self.line}"]
        if self.subject:
            parts.append(self.subject)
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class StackFileError(Exception):
    """A stack file was rejected; ``errors`` lists every problem found, in file order."""

    def __init__(self, errors: list[SpecError]):
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.subject, e.path))
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
        """The target namespace for Kubernetes kinds (SPEC: defaults to the document name)."""
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
    """Parse and validate a stack file; raise :class:`StackFileError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StackFileError([SpecError(str(path), 0, "", "", f"cannot read: {exc.strerror}")]) from exc
    return load_stack_text(text, str(path), registry)


def load_stack_text(text: str, filename: str, registry: KindRegistry | None = None) -> StackDocuments:
    """Parse and validate stack documents from text; ``filename`` is used in messages."""
    if registry is None:
        from components.registry import default_registry

        registry = default_registry()
    return _load(text, filename, registry)


# Documents are immutable, so the same text loads once per process: the daemon re-reads every
# stack file each cycle and the renderer loads a file before the program loads it again.
@lru_cache(maxsize=1024)
def _load(text: str, filename: str, registry: KindRegistry) -> StackDocuments:
    errors: list[SpecError] = []
    raw_documents = _parse_yaml(text, filename, errors)
    documents: list[Document] = []
    seen: dict[tuple[str, str], int] = {}
    for data, lines, start_line in raw_documents:
        document = _validate_document(data, lines, start_line, filename, registry, errors)
        if document is None:
            continue
        key = (document.kind, document.name)
        if key in seen:
            errors.append(
                SpecError(
                    filename,
                    document.line_of(("metadata", "name")),
                    document.subject,
                    "metadata.name",
                    f"duplicate document: {document.subject} is already defined at line {seen[key]}",
                )
            )
            continue
        seen[key] = document.line
        documents.append(document)

    stack = StackDocuments(filename, tuple(documents))
    errors.extend(_check_references(stack))
    for registration in registry.registrations():
        if registration.check_stack is not None:
            errors.extend(registration.check_stack(stack))
    errors.extend(_check_created_namespaces(stack, registry, errors))
    if errors:
        raise StackFileError(errors)
    return stack


# --- YAML with line numbers -------------------------------------------------------------------


def _parse_yaml(
    text: str, filename: str, errors: list[SpecError]
) -> list[tuple[Any, dict[FieldPath, int], int]]:
    """Each document's data, a map from field path to 1-based line, and its first line.

    libyaml (when PyYAML has it) parses about ten times faster; a file with any problem is parsed
    again in pure Python, whose error positions the messages are written for.
    """
    if yaml.__with_libyaml__:
        fast_errors: list[SpecError] = []
        parsed = _parse_yaml_with(yaml.CSafeLoader, text, filename, fast_errors)
        if not fast_errors:
            return parsed
    return _parse_yaml_with(yaml.SafeLoader, text, filename, errors)


def _parse_yaml_with(
    loader_class: Any, text: str, filename: str, errors: list[SpecError]
) -> list[tuple[Any, dict[FieldPath, int], int]]:
    loader = loader_class(text)
    parsed: list[tuple[Any, dict[FieldPath, int], int]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[FieldPath, int] = {}
            try:
                _index_lines(node, (), lines, filename, errors)
            except _UnloadableError:
                continue
            parsed.append((loader.construct_document(node), lines, node.start_mark.line + 1))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "<stream end>" in (exc.problem or ""):
            mark = exc.context_mark  # an unclosed bracket: point at where it was opened
        line = mark.line + 1 if mark else 0
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        errors.append(SpecError(filename, line, "", "", f"invalid YAML: {problem}"))
    except yaml.YAMLError as exc:
        errors.append(SpecError(filename, 0, "", "", f"invalid YAML: {exc}"))
    finally:
        loader.dispose()
    return parsed


def _index_lines(
    node: yaml.Node,
    path: FieldPath,
    lines: dict[FieldPath, int],
    filename: str,
    errors: list[SpecError],
    ancestors: frozenset[int] = frozenset(),
) -> None:
    lines[path] = node.start_mark.line + 1
    if id(node) in ancestors:  # an alias that contains itself would never end
        errors.append(
            SpecError(filename, node.start_mark.line + 1, "", _dotted(path), "a YAML alias refers to itself")
        )
        raise _UnloadableError
    ancestors = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen_keys: set[Any] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                errors.append(
                    SpecError(
                        filename,
                        key_node.start_mark.line + 1,
                        "",
                        _dotted(path),
                        "a mapping key must be a string",
                    )
                )
                raise _UnloadableError
            key = key_node.value
            if key in seen_keys:
                errors.append(
                    SpecError(
                        filename,
                        key_node.start_mark.line + 1,
                        "",
                        _dotted((*path, key)),
                        "duplicate key in YAML mapping",
                    )
                )
            seen_keys.add(key)
            _index_lines(value_node, (*path, key), lines, filename, errors, ancestors)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*path, index), lines, filename, errors, ancestors)


class _UnloadableError(Exception):
    """A document that cannot be turned into data (already reported in ``errors``)."""


def _nearest_line(lines: Mapping[FieldPath, int], path: FieldPath, default: int) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return default


# --- validation -------------------------------------------------------------------------------


def _validate_document(
    data: Any,
    lines: dict[FieldPath, int],
    start_line: int,
    filename: str,
    registry: KindRegistry,
    errors: list[SpecError],
) -> Document | None:
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
    try:
        spec = registration.spec_model.model_validate({} if raw_spec is None else raw_spec)
    except ValidationError as exc:
        errors.extend(_pydantic_errors(exc, ("spec",), lines, start_line, filename, subject))
        return None
    if envelope is None:
        return None
    return Document(registration.kind, envelope.metadata, spec, filename, start_line, lines)


def one_namespace_each(kind: str, why: str) -> Callable[[StackDocuments], Iterator[SpecError]]:
    """A stack check: no two documents of ``kind`` target the same namespace (``why`` says why)."""

    def check(stack: StackDocuments) -> Iterator[SpecError]:
        owners: dict[str, Document] = {}
        for document in stack.of_kind(kind):
            first = owners.setdefault(document.namespace, document)
            if first is not document:
                path = namespace_path(document)
                yield SpecError(
                    document.file,
                    document.line_of(path),
                    document.subject,
                    ".".join(path),
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


def _check_references(stack: StackDocuments) -> Iterable[SpecError]:
    for document in stack:
        references = getattr(document.spec, "references", None)
        if references is None:
            continue
        for reference in references():
            if stack.get(reference.kind, reference.name) is None:
                path = ("spec", *tuple(reference.path))
                yield SpecError(
                    document.file,
                    document.line_of(path),
                    document.subject,
                    _dotted(path),
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
