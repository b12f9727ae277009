"""Vault KV v2 versions, keyed ``"<mount>/<path>"``: a fact about the world, shared by every stack."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class VaultVersions:
    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self.dirty = False

    def get(self, secret: str) -> int | None:
        return self._versions.get(secret)

    def set(self, secret: str, version: int) -> bool:
        """True when ``version`` differs from the last one."""
        if self._versions.get(secret) == version:
            return False
        self._versions[secret] = version
        self.dirty = True
        return True

    def to_json(self) -> dict[str, int]:
        return dict(sorted(self._versions.items()))

    def load(self, raw: Mapping[str, Any]) -> None:
        self._versions = {key: int(number) for key, number in raw.items()}
