"""The driftless command line (SPEC §3)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from automation.render.diff import diff_files
from automation.render.render import PROJECT_DIR, RenderOptions, render_stack
from automation.render.report import as_json, as_text
from automation.render.schemas import CRD_SCHEMAS_ENV, KUBERNETES_VERSION_ENV, SchemaValidator

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return int(args.handler(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m automation", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    render = commands.add_parser("render", help="render a stack offline and validate every object")
    target = render.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="stack name: renders stacks/<NAME>.yaml")
    target.add_argument("--file", type=Path, help="a stack file to render")
    render.add_argument("--observations", type=Path, help="observations JSON (SPEC §2)")
    render.add_argument("--format", choices=("json", "text"), default="text")
    render.add_argument(
        "--crd-schemas", type=Path, help=f"directory of CRD schemas (default: ${CRD_SCHEMAS_ENV})"
    )
    render.add_argument(
        "--kubernetes-version",
        help=f"Kubernetes version to validate against (default: ${KUBERNETES_VERSION_ENV} or 1.33)",
    )
    render.set_defaults(handler=_render)

    diff = commands.add_parser("diff", help="Markdown review of two render --format json outputs")
    diff.add_argument("old", help="render output before the change")
    diff.add_argument("new", help="render output after the change")
    diff.set_defaults(handler=_diff)
    return parser


def stack_path(stack: str) -> Path:
    return PROJECT_DIR / "stacks" / f"{stack}.yaml"


def _render(args: argparse.Namespace) -> int:
    path = args.file if args.file else stack_path(args.stack)
    validator = SchemaValidator(args.kubernetes_version, args.crd_schemas)
    result = render_stack(
        path,
        stack=args.stack,
        observations=args.observations,
        options=RenderOptions(validator=validator),
    )
    print(as_json(result) if args.format == "json" else as_text(result))
    if not result.ok:
        for problem in result.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    print(diff_files(args.old, args.new), end="")
    return EXIT_OK
