"""Kubernetes objects as plain data: pure helpers, no Pulumi, for the modules that infer status."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SNAKE = re.compile(r"_([a-z0-9])")


def normalize(value: Any) -> Any:
    """A live object or status as Kubernetes writes it: camelCase keys, plain dicts and lists.

    The provider SDK hands back typed output objects keyed in snake_case (``ready_replicas``);
    the API, and the tests' fixtures, use camelCase. Both come out the same.
    """
    if isinstance(value, Mapping):
        return {_SNAKE.sub(lambda m: m.group(1).upper(), str(k)): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(item) for item in value]
    return value
