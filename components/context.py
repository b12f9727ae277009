"""What a component factory gets besides its own document: the stack, observations, settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from components.documents import StackDocuments
from components.observations import Observations

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ProgramSettings:
    """Stack configuration, already read from ``pulumi.Config`` by ``__main__.py``."""

    project_dir: Path
    # Vault for vault:// references; None falls back to the provider's VAULT_ADDR/VAULT_TOKEN.
    vault_address: str | None = None
    vault_token: Any = None  # a secret pulumi.Output[str], never a plain string
    # Other ``driftless:*`` config values, for domain options (e.g. kapsa:clusterBuilder).
    options: Mapping[str, str] = field(default_factory=dict)

    def options_for(self, model: type[M]) -> M:
        """The options as a kind's typed model (``KindRegistration.options_model``): its fields'
        aliases are the option names; options of other kinds are ignored."""
        names = {info.alias or name for name, info in model.model_fields.items()}
        return model.model_validate({key: value for key, value in self.options.items() if key in names})


@dataclass
class StackContext:
    """Everything a component factory may read beyond its own document."""

    stack: str
    documents: StackDocuments
    observations: Observations
    settings: ProgramSettings
    _shared: dict[str, Any] = field(default_factory=dict, repr=False)

    def shared(self, key: str, create: Callable[[], T]) -> T:
        """One instance per stack of something several components use (e.g. a Vault provider)."""
        if key not in self._shared:
            self._shared[key] = create()
        value: T = self._shared[key]
        return value
