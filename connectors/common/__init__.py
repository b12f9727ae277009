"""Shared primitives of the custom Fivetran connectors in this folder.

Every connector's deployment package carries a copy of this package beside its ``connector.py``
(``components/common/archive.py`` copies it in), so a connector imports it as ``common``:

- :mod:`common.errors`: the error family the sync layer branches on (transient vs permanent).
- :mod:`common.http`: one HTTP request, raising typed errors; no retries (``api.py`` modules use it).
- :mod:`common.retry`: retries on 429/5xx with capped exponential backoff, jitter and Retry-After.
- :mod:`common.cursor`: the ID cursor with adaptive take sizes and parallel requests.
- :mod:`common.changes`: the cursor on the modification time that re-reads changed records.
- :mod:`common.windows`: time-window batches that shrink on timeout.
- :mod:`common.errors_table`: the ``errors`` table, for what failed even at the smallest size.
- :mod:`common.logs`: logging through the SDK with credentials redacted.
- :mod:`common.config`: reading the (all-string) connector configuration.
- :mod:`common.transform`: pure value conversions (UTC datetimes, IDs as strings, JSON strings).

Nothing here imports a connector; nothing here calls ``Operations`` itself: the connector's
``sync.py`` passes in what to do with records, progress and failures.
"""
