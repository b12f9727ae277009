"""Shared fixtures. Pulumi mocks are installed per render inside the harness, never at import."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.harness import SHARED_CRDS, RenderedGraph, render_spec


@pytest.fixture
def render(tmp_path: Path) -> Callable[..., RenderedGraph]:
    """``render(spec, **options)``: see :func:`tests.harness.render_spec`."""
    return partial(render_spec, tmp_path=tmp_path)


@pytest.fixture
def crd_schemas() -> Path:
    if not SHARED_CRDS.is_dir():
        pytest.fail(f"CRD schemas not found at {SHARED_CRDS}: the tests need ../shared beside the checkout")
    return SHARED_CRDS


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
