"""Fixtures for the daemon tests: a throwaway project, a manual clock, reconcilers wired to fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from automation.daemon.clock import ManualClock
from automation.daemon.driver import Driver
from automation.daemon.layout import ProjectLayout
from automation.daemon.reconciler import Reconciler
from automation.daemon.settings import DaemonSettings
from automation.daemon.store import StatusStore
from tests.automation.daemon.helpers import REGISTRY, FakeDriver, FakeObservations


@pytest.fixture
def layout(tmp_path: Path) -> ProjectLayout:
    """A project with its own (stand-in) program source, an empty stacks dir and a state dir."""
    project = tmp_path / "project"
    (project / "components").mkdir(parents=True)
    (project / "__main__.py").write_text("# the program\n")
    (project / "components" / "__init__.py").write_text("")
    (project / "stacks").mkdir()
    return ProjectLayout.at(project)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def driver() -> FakeDriver:
    return FakeDriver()


@pytest.fixture
def observations() -> FakeObservations:
    return FakeObservations()


@pytest.fixture
def make_reconciler(
    layout: ProjectLayout, clock: ManualClock, observations: FakeObservations
) -> Iterator[Callable[..., Reconciler]]:
    """``make_reconciler(driver, settings=..., store=...)``: a reconciler with identity jitter.

    Each call opens the status store anew from ``state.db``, as a restarted daemon would.
    """
    made: list[Reconciler] = []

    def make(driver: Driver, *, settings: DaemonSettings | None = None, **overrides: Any) -> Reconciler:
        reconciler = Reconciler(
            layout,
            driver,
            StatusStore(layout.state_dir / "state.db"),
            settings=settings or DaemonSettings(),
            observations=overrides.pop("observations", observations),
            clock=overrides.pop("clock", clock),
            jitter=overrides.pop("jitter", lambda delay: delay),
            registry=overrides.pop("registry", REGISTRY),
            **overrides,
        )
        made.append(reconciler)
        return reconciler

    yield make
    for reconciler in made:
        reconciler.shutdown(grace=0, cancel_wait=1)
        reconciler.store.close()
