"""Review diff: what a change to a stack adds, updates (field by field) and removes.

The offline counterpart of ``pulumi preview`` for pull requests: it compares two ``render --format
json`` outputs and writes Markdown fit for a review comment. Both renders are masked again before
they are compared (:mod:`components.common.masking`): the base render may come from an older
driftless that printed a credential it did not recognise, and no credential may reach a comment.
A secret shows as ``[secret]`` on both sides; a change to one is not visible.

A resource registered with ``retainOnDelete`` leaves the stack but not the cluster: a delete of
one says it is retained, and a change of the option shows as a change of the resource.

A resource with a ``read`` id (``Resource.get``, a live lookup) is not managed by the stack: it is
never created, updated or deleted, so it is left out of the changes and listed apart as a read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from components.common import masking

ResourceKey = tuple[str, str, str]  # (type, name, parent)
_MISSING = object()
_MAX_VALUE = 120
_RETAIN_OPTION = "retainOnDelete (resource option)"
_RETAINED_NOTE = " — **retained**: leaves the stack, stays in the cluster"


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any


@dataclass
class StackDiff:
    stack: str
    added: list[Mapping[str, Any]] = field(default_factory=list)
    removed: list[Mapping[str, Any]] = field(default_factory=list)
    updated: list[tuple[Mapping[str, Any], list[FieldChange]]] = field(default_factory=list)
    reads: list[Mapping[str, Any]] = field(default_factory=list)  # existing resources the new render reads
    unchanged: int = 0  # managed resources in both renders with the same inputs

    @property
    def empty(self) -> bool:
        """No resource to create, update or delete (reads change nothing)."""
        return not (self.added or self.removed or self.updated)


def diff_renders(old: Mapping[str, Any], new: Mapping[str, Any]) -> StackDiff:
    """Compare two render outputs (``render --format json`` objects), masked first."""
    old, new = masking.mask_tree(dict(old)), masking.mask_tree(dict(new))
    before = {_key(r): r for r in old.get("resources", []) if not _is_read(r)}
    after = {_key(r): r for r in new.get("resources", []) if not _is_read(r)}
    result = StackDiff(str(new.get("stack") or old.get("stack") or ""))
    result.reads = [r for r in new.get("resources", []) if _is_read(r)]
    for key, resource in after.items():
        if key not in before:
            result.added.append(resource)
        else:
            changes = list(_field_changes(before[key].get("inputs", {}), resource.get("inputs", {}), ""))
            if _retained(before[key]) != _retained(resource):
                changes.append(FieldChange(_RETAIN_OPTION, _retained(before[key]), _retained(resource)))
            if changes:
                result.updated.append((resource, changes))
            else:
                result.unchanged += 1
    result.removed = [resource for key, resource in before.items() if key not in after]
    return result


def to_markdown(diff: StackDiff) -> str:
    """A review comment: a summary line, then adds, updates field by field, deletes, and reads."""
    title = f"### driftless: stack `{diff.stack}`"
    reads = _reads_line(diff.reads)
    if diff.empty:
        return f"{title}\n\nNo changes.\n" + (f"\n{reads}\n" if reads else "")
    lines = [
        title,
        "",
        f"**{len(diff.added)} to add, {len(diff.updated)} to update, {len(diff.removed)} to delete**"
        + _retained_count(diff.removed),
    ]
    if diff.added:
        lines += ["", "#### Add", ""]
        lines += [f"- `+` {_label(r)}" for r in diff.added]
    if diff.updated:
        lines += ["", "#### Update", ""]
        for resource, changes in diff.updated:
            lines.append(f"- `~` {_label(resource)}")
            for change in changes:
                lines.append(f"  - `{change.path}`: {_show(change.old)} → {_show(change.new)}")
    if diff.removed:
        lines += ["", "#### Delete", ""]
        lines += [f"- `-` {_label(r)}{_RETAINED_NOTE if _retained(r) else ''}" for r in diff.removed]
    if reads:
        lines += ["", reads]
    return "\n".join(lines) + "\n"


def diff_files(old_path: str, new_path: str) -> str:
    with open(old_path, encoding="utf-8") as old_file, open(new_path, encoding="utf-8") as new_file:
        return to_markdown(diff_renders(json.load(old_file), json.load(new_file)))


def _is_read(resource: Mapping[str, Any]) -> bool:
    return resource.get("read") is not None


def _retained(resource: Mapping[str, Any]) -> bool:
    return bool(resource.get("retainOnDelete"))


def _retained_count(removed: list[Mapping[str, Any]]) -> str:
    count = sum(1 for r in removed if _retained(r))
    return f" ({count} of the deleted retained in the cluster)" if count else ""


def _reads_line(reads: list[Mapping[str, Any]]) -> str:
    """One line naming the existing resources the stack reads (never changed by it)."""
    if not reads:
        return ""
    named = ", ".join(f"{_label(r)} (id `{r.get('read')}`)" for r in reads)
    return f"**Reads** ({len(reads)}, existing resources looked up, never changed): {named}"


def _key(resource: Mapping[str, Any]) -> ResourceKey:
    return (str(resource.get("type")), str(resource.get("name")), str(resource.get("parent")))


def _label(resource: Mapping[str, Any]) -> str:
    parent = f" (in `{resource['parent']}`)" if resource.get("parent") else ""
    return f"`{resource.get('type')}` **{resource.get('name')}**{parent}"


def _field_changes(old: Any, new: Any, path: str) -> Iterator[FieldChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            child = f"{path}.{key}" if path else str(key)
            yield from _field_changes(old.get(key, _MISSING), new.get(key, _MISSING), child)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _field_changes(a, b, f"{path}[{index}]")
    elif old != new:
        yield FieldChange(path, old, new)


def _show(value: Any) -> str:
    if value is _MISSING:
        return "_(absent)_"
    text = json.dumps(value, sort_keys=True)
    if len(text) > _MAX_VALUE:
        text = text[: _MAX_VALUE - 1] + "…"
    return f"`{text}`"
