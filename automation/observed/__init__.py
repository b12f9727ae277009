"""The observation store's parts: one small store per kind of fact, persisted together.

:class:`automation.observation_store.ObservationStore` composes them behind one interface, holds the
lock (none of these is thread-safe on its own) and writes them to one file. Each part keeps its own
``dirty`` flag and reads and writes its own section of that file.
"""
