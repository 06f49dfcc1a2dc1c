"""What ``list_queues`` and ``alist_queues`` share: the SCAN pattern and reading queue names
from keys, no I/O."""

from __future__ import annotations

import logging
from typing import Any

from ..base.keys import validate_prefix, validate_queue_name

# Suffixes every BullMQ-format queue has once used: Node and queuecore write `meta` on first
# add, and every add INCRs `id`.
_MARKERS = (":meta", ":id")
log = logging.getLogger("queuecore.discovery")


def pattern(prefix: str) -> str:
    """One pattern for both markers, so the keyspace is walked once: it lets through any key
    with ``:me`` or ``:id`` after the queue name, and ``name_of`` keeps the exact ones."""
    validate_prefix(prefix)  # refuses glob characters, so the pattern is exactly the prefix
    return f"{prefix}:*:[mi][ed]*"


def name_of(key: str | bytes, prefix: str) -> str | None:
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
    for marker in _MARKERS:
        if text.endswith(marker):
            try:
                return validate_queue_name(text[len(prefix) + 1:-len(marker)])
            except ValueError:
                return None  # a key that is not a queue's (or a name queuecore cannot open)
    return None


def collect(keys: Any, prefix: str, names: set[str]) -> None:
    for key in keys:
        name = name_of(key, prefix)
        if name:
            names.add(name)


def cut_short(prefix: str, calls: int, count: int) -> None:
    log.warning("list_queues(%r): stopped after %d SCAN calls of %d keys before the end of"
                " the keyspace, so some queues may be missing; raise max_calls or name the"
                " queues", prefix, calls, count)
