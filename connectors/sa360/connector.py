"""Google Search Ads 360 -> Fivetran: one table per report of daily metrics, via the Reporting API (SDK).

``schema()`` declares the tables; ``update()`` syncs from the saved state. The work is split as in
every connector of this folder: ``api.py`` (HTTP, OAuth tokens, raw JSON), ``sync.py`` (date
windows, lookback, checkpoints, retries), ``models.py`` (reports, queries and pure row
transformations), and the shared primitives in ``common/``.

Configuration (all values are strings): ``customer_id``, ``client_id``, ``client_secret`` and
``refresh_token`` (required), ``login_customer_id`` (the manager account, when the customer is
reached through one), ``reports`` (default ``campaign,ad_group``), ``lookback_days`` (default 7)
and the optional keys in configuration.example.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The deployment package carries the shared primitives (``common/``) beside this file. In the
# repository they live one folder up, in connectors/common, so a ``fivetran debug`` run from
# connectors/sa360 finds them there. This folder goes first so that api/sync/models are ours.
_HERE = Path(__file__).resolve().parent
for _path in ([_HERE.parent] if not (_HERE / "common").is_dir() else []) + [_HERE]:
    if str(_path) not in sys.path[:1]:
        sys.path.insert(0, str(_path))

import sync  # noqa: E402
from api import DEFAULT_BASE_URL, DEFAULT_TOKEN_URL, Sa360Api  # noqa: E402
from common import config, errors_table  # noqa: E402
from common.errors import ConfigurationError  # noqa: E402
from common.logs import scrubbed_errors, setup_logging  # noqa: E402
from common.output import SdkOutput  # noqa: E402
from fivetran_connector_sdk import Connector  # noqa: E402

# Configuration keys whose values never reach a log line, an error message or the errors table.
SECRET_KEYS = ("client_secret", "refresh_token")


def schema(configuration: dict) -> list[dict]:
    """One table per configured report (keyed by resource ID and date), and errors (days not read)."""
    return [*sync.report_tables(sync.settings_from(configuration).reports), errors_table.SCHEMA]


def update(configuration: dict, state: dict) -> None:
    """Syncs every configured report from ``state`` onward, checkpointing after every window."""
    setup_logging(configuration, SECRET_KEYS)
    with scrubbed_errors():
        settings = sync.settings_from(configuration)
        token_url = config.optional(configuration, "token_url", DEFAULT_TOKEN_URL)
        if not token_url.startswith(("https://", "http://")):
            raise ConfigurationError("configuration key 'token_url' must start with https:// or http://")
        customer_id = config.required(configuration, "customer_id")
        login_customer_id = config.optional(configuration, "login_customer_id", "")
        for key, value in (("customer_id", customer_id), ("login_customer_id", login_customer_id)):
            if value and not value.replace("-", "").isdigit():
                raise ConfigurationError(f"configuration key {key!r} must be digits (dashes allowed)")
        api = Sa360Api(
            config.base_url(configuration, DEFAULT_BASE_URL),
            token_url,
            customer_id=customer_id,
            login_customer_id=login_customer_id,
            client_id=config.required(configuration, "client_id"),
            client_secret=config.required(configuration, "client_secret"),
            refresh_token=config.required(configuration, "refresh_token"),
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
