"""Connector tests: the shared primitives are imported as the top-level package ``common``.

That is how the connectors import them inside a deployment package, so the tests do the same:
importing :mod:`tests.connectors.support` puts ``connectors/`` on ``sys.path`` before any test
module is collected.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import tests.connectors.support  # noqa: F401 -- puts connectors/ on sys.path for `import common`

_ROUTED_LOGGERS = ("connector", "urllib3", "requests")


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    """``setup_logging`` reconfigures process-wide loggers and the active redactor: put them back after each test."""
    import common.logs

    loggers = [logging.getLogger(name) for name in _ROUTED_LOGGERS]
    saved = [(list(logger.handlers), logger.level, logger.propagate) for logger in loggers]
    active = common.logs._active
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers = handlers
        logger.setLevel(level)
        logger.propagate = propagate
    common.logs._active = active
