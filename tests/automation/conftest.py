"""Fixtures for every test of the daemon and the command line."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The command line configures the ``driftless`` logger; each test gets it back as it was."""
    logger = logging.getLogger("driftless")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
