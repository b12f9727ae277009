"""Branch slugs: a git branch name turned into a DNS label, a Kubernetes name and a label value.

``feature/new-api`` → ``feature-new-api``. A slug is lowercase ``[a-z0-9-]``, starts with a letter
(it names a Service, which must) and ends with a letter or digit, at most 63 characters (it is a
host label). Accents are folded (``café`` → ``cafe``); anything else outside ASCII is dropped.

A slug that had to be shortened, or that says nothing of its branch (a name written only in
non-Latin script), gets a short hash of the full branch name, so distinct branches stay distinct.
When two branches of one set still land on the same slug (``Feature/X`` and ``feature-x``), or a
slug is reserved (a permanent environment's name), *every* one of them gets a hash suffix: the
result depends only on the set of names, never on the order they are listed or were seen in.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

MAX_LENGTH = 63
HASH_LENGTH = 6
# What a branch with no usable character at all is called (before its hash).
FALLBACK = "branch"
# Put before a slug that would otherwise start with a digit.
DIGIT_PREFIX = "b-"

_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")


def branch_hash(branch: str, length: int = HASH_LENGTH) -> str:
    """A short, stable hex digest of the full branch name."""
    return hashlib.sha256(branch.encode("utf-8")).hexdigest()[:length]


def _core(branch: str) -> str:
    """Lowercase ASCII letters and digits joined by single dashes; may be empty."""
    folded = unicodedata.normalize("NFKD", branch.casefold())
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c)).encode("ascii", "ignore")
    return _NOT_ALLOWED.sub("-", ascii_only.decode("ascii")).strip("-")


def _with_hash(core: str, branch: str, length: int) -> str:
    suffix = branch_hash(branch, length)
    stem = core[: MAX_LENGTH - 1 - len(suffix)].rstrip("-")
    return f"{stem}-{suffix}"


def _label(core: str) -> str:
    if not core:
        return FALLBACK
    return DIGIT_PREFIX + core if core[0].isdigit() else core


def slugify(branch: str, hash_length: int = 0) -> str:
    """The slug of one branch; ``hash_length`` forces a hash suffix of that many characters."""
    core = _core(branch)
    if not core and hash_length == 0:
        hash_length = HASH_LENGTH  # "branch" alone would say nothing about which branch
    label = _label(core)
    if hash_length == 0 and len(label) <= MAX_LENGTH:
        return label
    return _with_hash(label, branch, hash_length or HASH_LENGTH)


def assign_slugs(branches: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """A unique slug for each branch, none equal to a reserved name; deterministic for the set."""
    names = sorted(set(branches))
    taken = set(reserved)
    slugs = {branch: slugify(branch) for branch in names}
    hash_length = HASH_LENGTH
    while True:
        by_slug: dict[str, list[str]] = defaultdict(list)
        for branch, slug in slugs.items():
            by_slug[slug].append(branch)
        clashing = [b for slug, group in by_slug.items() if len(group) > 1 or slug in taken for b in group]
        if not clashing:
            return slugs
        if hash_length > 64:  # cannot happen with distinct names; guards the loop anyway
            raise ValueError(f"cannot give distinct slugs to {sorted(clashing)}")
        for branch in clashing:
            slugs[branch] = slugify(branch, hash_length)
        # Longer hashes only if a suffixed slug still meets another (astronomically unlikely).
        hash_length += 2
