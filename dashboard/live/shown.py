"""Which queues an overview page shows: the page sends them (its ``queues`` field, JSON
``[[connection, queue], ...]``) so that its socket follows exactly the queues on screen,
whatever page, filter and sort; the access check still decides which of them it may watch."""

from __future__ import annotations

import json
from typing import Any

from dashboard import conf, names

Key = tuple[str, str]


def parse_shown(raw: Any) -> frozenset[Key] | None:
    """The queues of a view message, or None when it names none (the default view stays).
    Bounded: at most ``LIVE_OVERVIEW_QUEUES`` pairs, names checked as URL names are."""
    if not isinstance(raw, str):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, list):
        return None
    limit = conf.get_settings().live_overview_queues
    out: set[Key] = set()
    for item in data[:limit]:
        if not (isinstance(item, list) and len(item) == 2
                and all(isinstance(x, str) for x in item)):
            continue
        try:
            names.check_queue_name(item[1])
        except ValueError:
            continue
        out.add((item[0], item[1]))
    return frozenset(out)
