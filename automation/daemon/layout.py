"""Where things are: the project (program and ``Pulumi.yaml``), its stack files, the daemon's state."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProjectLayout:
    """The project (program and ``Pulumi.yaml``), its stack files and the daemon's state directory."""

    project_dir: Path
    stacks_dir: Path
    state_dir: Path

    @classmethod
    def at(
        cls, project_dir: Path, *, stacks_dir: Path | None = None, state_dir: Path | None = None
    ) -> ProjectLayout:
        return cls(
            project_dir=project_dir,
            stacks_dir=stacks_dir or project_dir / "stacks",
            state_dir=state_dir or project_dir / ".driftless",
        )

    def stack_names(self) -> list[str]:
        if not self.stacks_dir.is_dir():
            return []
        return sorted({p.stem for pattern in ("*.yaml", "*.yml") for p in self.stacks_dir.glob(pattern)})

    def stack_file(self, name: str) -> Path:
        yml = self.stacks_dir / f"{name}.yml"
        return (
            yml
            if yml.exists() and not (self.stacks_dir / f"{name}.yaml").exists()
            else self.stacks_dir / f"{name}.yaml"
        )

    def observations_file(self, name: str) -> Path:
        return self.state_dir / "observations" / f"{name}.json"

    def validated_stack_file(self, name: str, stack_file: Path | None = None) -> Path:
        """Where an operation's copy of the stack file goes: the content the daemon validated."""
        return self.state_dir / "stack-files" / (stack_file or self.stack_file(name)).name


def write_bytes_atomically(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` (owner-only): a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    os.replace(partial, path)
