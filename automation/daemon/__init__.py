"""The driftless daemon: re-run ``pulumi up`` for exactly the stacks whose inputs changed.

Layers, each importing only the ones before it:

- :mod:`.driver` — the one narrow interface to Pulumi (operations, typed results, typed errors) and
  the mapping from Pulumi CLI failures to those errors;
- :mod:`.automation_driver` (real, over ``pulumi.automation``) and :mod:`.offline_driver` (the
  renderer, for ``--dry-run``, demos and tests) — the two implementations;
- :mod:`.fingerprint`, :mod:`.settings`, :mod:`.clock`, :mod:`.status`, :mod:`.store`,
  :mod:`.logs`, :mod:`.interfaces`, :mod:`.layout` — pure data, persistence, where files are, and
  the shapes the core needs from the observation store and metrics;
- the reconciler, in the order one reads it:
  :mod:`.inputs` (a stack's inputs and fingerprint, read each cycle),
  :mod:`.decisions` (pure: what to do with a stack now, backoff and stall rules),
  :mod:`.transitions` (pure: how each event changes a stack's status),
  :mod:`.status_book` (the live statuses, shared under one lock, written through to the store),
  :mod:`.recovery` (after a crash: on start, and when an ``up`` finds pending operations),
  :mod:`.operations` (one ``up`` or drift check on a pool thread, and its result recorded), and
  :mod:`.reconciler` (the cycle, the bounded pool, shutdown);
- :mod:`.runner` — the long-running loop: sources of change and signals;
- :mod:`.app` — wiring for the command line (which driver, which state directory).

See ``README.md`` here for the state layout, settings, failure handling and crash recovery.
"""
