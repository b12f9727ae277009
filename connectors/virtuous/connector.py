"""Virtuous CRM+ -> Fivetran: contacts and gifts through an ID cursor (Connector SDK).

``schema()`` declares the tables; ``update()`` syncs from the saved state. The work is split as in
every connector of this folder: ``api.py`` (HTTP, raw JSON), ``sync.py`` (cursor, checkpoints,
retries), ``models.py`` (pure row transformations), and the shared primitives in ``common/``.

Configuration (all values are strings): ``bearer_token`` (required), ``base_url`` (default
``https://api.virtuoussoftware.com``) and the optional tuning keys in configuration.example.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The deployment package carries the shared primitives (``common/``) beside this file. In the
# repository they live one folder up, in connectors/common, so a ``fivetran debug`` run from
# connectors/virtuous finds them there. This folder goes first so that api/sync/models are ours.
_HERE = Path(__file__).resolve().parent
for _path in ([_HERE.parent] if not (_HERE / "common").is_dir() else []) + [_HERE]:
    if str(_path) not in sys.path[:1]:
        sys.path.insert(0, str(_path))

import models  # noqa: E402
import sync  # noqa: E402
from api import DEFAULT_BASE_URL, VirtuousApi  # noqa: E402
from common import config, errors_table  # noqa: E402
from common.logs import scrubbed_errors, setup_logging  # noqa: E402
from common.output import SdkOutput  # noqa: E402
from common.rate_budget import RateBudget  # noqa: E402
from fivetran_connector_sdk import Connector  # noqa: E402

# Configuration keys whose values never reach a log line, an error message or the errors table.
SECRET_KEYS = ("bearer_token",)


def schema(configuration: dict) -> list[dict]:
    """The tables: contacts, gifts, and errors (what could not be read even one record at a time)."""
    return [*models.TABLES, errors_table.SCHEMA]


def update(configuration: dict, state: dict) -> None:
    """Syncs contacts and gifts from ``state`` onward, checkpointing after every round of pages."""
    setup_logging(configuration, SECRET_KEYS)
    with scrubbed_errors():
        settings = sync.settings_from(configuration)
        api = VirtuousApi(
            config.base_url(configuration, DEFAULT_BASE_URL),
            config.required(configuration, "bearer_token"),
            timeout=settings.request_timeout,
            pool_size=settings.takes.parallel,
            budget=RateBudget(max_wait=settings.rate_limit_max_wait),
        )
        try:
            sync.sync_all(api, state, SdkOutput(), settings)
        finally:
            if api.budget.waited:
                sync.log.info("waited %.1fs in all for the source's request budget", api.budget.waited)
            api.close()


connector = Connector(update=update, schema=schema)


if __name__ == "__main__":
    # `python connector.py` runs a local sync with configuration.json, like `fivetran debug`.
    with open(_HERE / "configuration.json", encoding="utf-8") as handle:
        connector.debug(configuration=json.load(handle))
