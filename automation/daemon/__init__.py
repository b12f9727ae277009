"""The driftless daemon: re-run ``pulumi up`` for exactly the stacks whose inputs changed.

Layers, each importing only the ones before it:

- :mod:`.driver` — the one narrow interface to Pulumi (operations, typed results, typed errors) and
  the mapping from Pulumi CLI failures to those errors;
- :mod:`.automation_driver` (real, over ``pulumi.automation``) and :mod:`.offline_driver` (the
  renderer, for ``--dry-run``, demos and tests) — the two implementations;
- :mod:`.fingerprint`, :mod:`.settings`, :mod:`.clock`, :mod:`.status`, :mod:`.store`,
  :mod:`.logs`, :mod:`.interfaces` — pure data, persistence, and the shapes the core needs from the
  observation store and metrics;
- :mod:`.reconciler` — decides per stack and runs operations on a bounded pool;
- :mod:`.runner` — the long-running loop: sources of change and signals;
- :mod:`.app` — wiring for the command line (which driver, which state directory).

See ``README.md`` here for the state layout, settings, failure handling and crash recovery.
"""
