"""Print a render result as JSON (``render --format json``) or as text for people.

Inputs and outputs arrive masked (:mod:`automation.render.values`); what is masked here once more is
everything else a render prints, the problems above all: a program's exception or a schema
message may quote a value, and a credential in it is printed as ``[secret]`` like any other.
"""

from __future__ import annotations

import json

import yaml

from automation.render.render import RenderResult
from components.common import masking


def as_json(result: RenderResult) -> str:
    """One JSON object, keys sorted, so two renders of the same input are byte-identical."""
    return json.dumps(masking.mask_tree(result.to_json()), indent=2, sort_keys=True, ensure_ascii=False)


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
            inputs = masking.mask_tree(dict(resource.inputs))
            body = yaml.safe_dump(inputs, sort_keys=True, default_flow_style=False)
            lines.extend(f"{indent}    {line}" for line in body.rstrip().splitlines())
    if result.outputs:
        lines.append("outputs:")
        outputs = masking.mask_tree(dict(result.outputs))
        body = yaml.safe_dump(outputs, sort_keys=True, default_flow_style=False)
        lines.extend(f"    {line}" for line in body.rstrip().splitlines())
    for warning in result.warnings:
        lines.append(f"warning: {masking.mask_text(str(warning))}")
    for problem in result.problems:
        lines.append(f"error: {masking.mask_text(str(problem))}")
    lines.append("valid" if result.ok else f"invalid: {len(result.problems)} problem(s)")
    return "\n".join(lines)
