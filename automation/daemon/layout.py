"""Where things are: the project (program and ``Pulumi.yaml``), its stack files, the daemon's state."""

from __future__ import annotations

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
