"""EveryAction -> Fivetran: contacts changed since the last sync, via changed-entity export jobs (SDK).

``schema()`` declares the tables; ``update()`` syncs from the saved state. The work is split as in
every connector of this folder: ``api.py`` (HTTP, raw JSON and CSV), ``sync.py`` (windows, export
jobs, checkpoints, retries), ``models.py`` (pure row transformations), and the shared primitives
in ``common/``.

Configuration (all values are strings): ``application_name`` and ``api_key`` (required),
``database_mode`` (``1``, EveryAction/MyCampaign, by default; ``0`` for VoterFile), ``base_url``
(default ``https://api.securevan.com/v4``) and the optional keys in configuration.example.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The deployment package carries the shared primitives (``common/``) beside this file. In the
# repository they live one folder up, in connectors/common, so a ``fivetran debug`` run from
# connectors/everyaction finds them there. This folder goes first so that api/sync/models are ours.
_HERE = Path(__file__).resolve().parent
for _path in ([_HERE.parent] if not (_HERE / "common").is_dir() else []) + [_HERE]:
    if str(_path) not in sys.path[:1]:
        sys.path.insert(0, str(_path))

import models  # noqa: E402
import sync  # noqa: E402
from api import DEFAULT_BASE_URL, EveryActionApi  # noqa: E402
from common import config, errors_table  # noqa: E402
from common.errors import ConfigurationError  # noqa: E402
from common.logs import scrubbed_errors, setup_logging  # noqa: E402
from common.output import SdkOutput  # noqa: E402
from fivetran_connector_sdk import Connector  # noqa: E402

# Configuration keys whose values never reach a log line, an error message or the errors table.
SECRET_KEYS = ("api_key",)
DATABASE_MODES = ("0", "1")


def schema(configuration: dict) -> list[dict]:
    """The tables: contacts (keyed by VanID), and errors (windows not read, history out of reach)."""
    return [*models.TABLES, errors_table.SCHEMA]


def update(configuration: dict, state: dict) -> None:
    """Syncs the changed contacts from ``state`` onward, checkpointing after every window."""
    setup_logging(configuration, SECRET_KEYS)
    with scrubbed_errors():
        settings = sync.settings_from(configuration)
        mode = config.optional(configuration, "database_mode", "1")
        if mode not in DATABASE_MODES:
            raise ConfigurationError(
                "configuration key 'database_mode' must be 0 (VoterFile) or 1 (MyCampaign)"
            )
        api = EveryActionApi(
            config.base_url(configuration, DEFAULT_BASE_URL),
            config.required(configuration, "application_name"),
            config.required(configuration, "api_key"),
            mode,
            timeout=settings.request_timeout,
        )
        try:
            sync.sync_all(api, state, SdkOutput(), settings)
        finally:
            api.close()


connector = Connector(update=update, schema=schema)


if __name__ == "__main__":
    # `python connector.py` runs a local sync with configuration.json, like `fivetran debug`.
    with open(_HERE / "configuration.json", encoding="utf-8") as handle:
        connector.debug(configuration=json.load(handle))
