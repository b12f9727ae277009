"""The driftless Pulumi program's library: one package per domain, plus shared building blocks.

Nothing here reads ``pulumi.Config`` or talks to the daemon: ``__main__.py`` turns stack config
into a :class:`components.context.StackContext`, and components receive typed specs.
"""
