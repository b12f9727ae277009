"""Git branch heads, keyed by repository URL: a fact about the world, shared by every stack."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HeadsChange:
    """How a repository's branch heads moved between two polls."""

    added: frozenset[str]
    removed: frozenset[str]
    moved: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.moved)

    def describe(self) -> str:
        parts = [f"+{b}" for b in sorted(self.added)]
        parts += [f"-{b}" for b in sorted(self.removed)]
        parts += [f"~{b}" for b in sorted(self.moved)]
        return " ".join(parts)


class GitHeads:
    """URL → branch → commit, as the last ``ls-remote`` of each repository found them."""

    def __init__(self) -> None:
        self._heads: dict[str, dict[str, str]] = {}
        self.dirty = False

    def get(self, url: str) -> dict[str, str] | None:
        """A copy of the repository's heads, or None if never observed."""
        heads = self._heads.get(url)
        return dict(heads) if heads is not None else None

    def of(self, url: str) -> Mapping[str, str]:
        """The repository's heads ({} if never observed), not copied."""
        return self._heads.get(url, {})

    def set(self, url: str, heads: Mapping[str, str]) -> HeadsChange:
        old = self._heads.get(url, {})
        change = HeadsChange(
            added=frozenset(heads.keys() - old.keys()),
            removed=frozenset(old.keys() - heads.keys()),
            moved=frozenset(b for b in heads.keys() & old.keys() if heads[b] != old[b]),
        )
        if change or url not in self._heads:
            self._heads[url] = dict(heads)
            self.dirty = True
        return change

    def to_json(self) -> dict[str, dict[str, str]]:
        return {url: dict(sorted(heads.items())) for url, heads in sorted(self._heads.items())}

    def load(self, raw: Mapping[str, Any]) -> None:
        self._heads = {url: dict(heads) for url, heads in raw.items()}
