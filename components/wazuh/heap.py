"""The indexer's Java heap: Kubernetes memory quantities and JVM sizes, and the default between them.

OpenSearch wants about half of the container's memory as heap (the rest is off-heap memory and the
page cache Lucene reads through), and at most 31g, the largest heap the JVM still addresses with
compressed object pointers. Pure functions, shared by the spec (validation) and the builders.
"""

from __future__ import annotations

import re
from decimal import Decimal

# Upstream's indexer memory limit, used when the spec gives no resources.
DEFAULT_MEMORY_LIMIT = "1564Mi"
# What the heap is without any memory figure to derive it from (upstream's fixed -Xmx1g).
FALLBACK_HEAP = "1g"
MAX_DEFAULT_HEAP = 31 * 1024**3
# The share of the memory limit an explicit heap may take; the JVM needs the rest outside it.
MAX_HEAP_SHARE = Decimal("0.75")

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY = re.compile(r"^\+?(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
_JVM_SIZE = re.compile(r"^([1-9]\d*)([kKmMgG])$")
_JVM_UNITS = {"k": 1, "m": 2, "g": 3}


def quantity_bytes(quantity: str) -> int:
    """The bytes of a Kubernetes memory quantity (``4Gi``, ``1564Mi``, ``2G``, ``1e9``), rounded down."""
    match = _QUANTITY.match(quantity)
    if match is None:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity")
    number, suffix = Decimal(match.group(1)), match.group(2) or ""
    if suffix in _BINARY:
        value = number * 1024 ** _BINARY[suffix]
    elif suffix in _DECIMAL:
        value = number * Decimal(10) ** _DECIMAL[suffix]
    else:
        value = number * Decimal(10) ** int(suffix[1:])
    return int(value)


def jvm_size_bytes(size: str) -> int:
    """The bytes of a JVM size option value (``512m``, ``2g``)."""
    match = _JVM_SIZE.match(size)
    if match is None:
        raise ValueError(f"{size!r} is not a JVM heap size (examples: 512m, 2g)")
    return int(match.group(1)) * 1024 ** _JVM_UNITS[match.group(2).lower()]


def jvm_size(size_bytes: int) -> str:
    """A JVM size for at most ``size_bytes``: whole gigabytes when exact, else whole megabytes."""
    if size_bytes % 1024**3 == 0:
        return f"{size_bytes // 1024**3}g"
    return f"{max(size_bytes // 1024**2, 1)}m"


def default_heap(memory: str | None) -> str:
    """Half of ``memory`` (the container's memory limit, or its request), at most 31g."""
    if memory is None:
        return FALLBACK_HEAP
    return jvm_size(min(quantity_bytes(memory) // 2, MAX_DEFAULT_HEAP))


def heap_problem(heap: str, memory_limit: str) -> str | None:
    """Why an explicit heap does not fit a memory limit, or None."""
    allowed = int(quantity_bytes(memory_limit) * MAX_HEAP_SHARE)
    if jvm_size_bytes(heap) > allowed:
        return (
            f"{heap} is more than {MAX_HEAP_SHARE:.0%} of the indexer's memory limit {memory_limit} "
            f"(at most {jvm_size(allowed)}): the JVM also needs memory outside its heap, and the "
            "container would be killed"
        )
    return None
