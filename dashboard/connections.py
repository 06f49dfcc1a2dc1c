"""Open queuecore queues per named connection, kept per process and closed on settings reset."""

from __future__ import annotations

import threading
from collections import OrderedDict

from dashboard import conf
from queuecore import Queue

_MAX_OPEN = 256
_lock = threading.Lock()
_open: OrderedDict[tuple[str, str], Queue] = OrderedDict()


class UnknownConnectionError(LookupError):
    """The URL names a connection that is not in ``QUEUE_DASHBOARD['CONNECTIONS']``."""


def connection_settings(name: str) -> conf.ConnectionSettings:
    found = conf.get_settings().connection(name)
    if found is None:
        raise UnknownConnectionError(name)
    return found


def get_queue(connection: str, name: str) -> Queue:
    """The shared ``Queue`` for ``name`` on a named connection (least recently used closed)."""
    settings = connection_settings(connection)
    key = (connection, name)
    with _lock:
        queue = _open.get(key)
        if queue is not None:
            _open.move_to_end(key)
            return queue
    queue = Queue(name, connection=settings.url, prefix=settings.prefix)
    evicted: list[Queue] = []
    with _lock:
        existing = _open.get(key)
        if existing is not None:
            evicted.append(queue)
            queue = existing
        else:
            _open[key] = queue
            while len(_open) > _MAX_OPEN:
                evicted.append(_open.popitem(last=False)[1])
    for old in evicted:
        old.close()
    return queue


@conf.on_reset
def close_all() -> None:
    with _lock:
        queues = list(_open.values())
        _open.clear()
    for queue in queues:
        queue.close()
