"""Print a render result as JSON (SPEC §3) or as text for people."""

from __future__ import annotations

import json

import yaml

from automation.render.render import RenderResult


def as_json(result: RenderResult) -> str:
    """One JSON object, keys sorted, so two renders of the same input are byte-identical."""
    return json.dumps(result.to_json(), indent=2, sort_keys=True, ensure_ascii=False)


def as_text(result: RenderResult) -> str:
    lines = [f"stack {result.stack}: {len(result.resources)} resources"]
    depth: dict[str, int] = {}
    for resource in result.resources:
        level = depth.get(resource.parent or "", -1) + 1 if resource.parent else 0
        depth[resource.name] = level
        indent = "  " * level
        read = f" (read {resource.read})" if resource.read else ""
        lines.append(f"{indent}{resource.type} {resource.name}{read}")
        if resource.inputs:
            body = yaml.safe_dump(dict(resource.inputs), sort_keys=True, default_flow_style=False)
            lines.extend(f"{indent}    {line}" for line in body.rstrip().splitlines())
    if result.outputs:
        lines.append("outputs:")
        body = yaml.safe_dump(dict(result.outputs), sort_keys=True, default_flow_style=False)
        lines.extend(f"    {line}" for line in body.rstrip().splitlines())
    for warning in result.warnings:
        lines.append(f"warning: {warning}")
    for problem in result.problems:
        lines.append(f"error: {problem}")
    lines.append("valid" if result.ok else f"invalid: {len(result.problems)} problem(s)")
    return "\n".join(lines)
