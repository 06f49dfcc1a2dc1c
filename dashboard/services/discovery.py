"""The queue names of a connection: configured, or found by a bounded SCAN (cached when slow)."""

from __future__ import annotations

import threading
import time

import queuecore
from dashboard import conf

#: A discovery SCAN slower than this is cached (DISCOVERY_CACHE_SECONDS): it walks the whole
#: keyspace, ~2 s at 1.1M keys, while on a small keyspace it costs a few ms and stays fresh.
SLOW_SCAN_SECONDS = 0.05
_DiscoveryKey = tuple[str, str, int]
_discovery_lock = threading.Lock()
_discovered: dict[_DiscoveryKey, tuple[float, list[str]]] = {}  # key -> (fresh until, names)
_refreshing: set[_DiscoveryKey] = set()
_discovery_generation = 0


def queue_names(conn: conf.ConnectionSettings) -> list[str]:
    """Configured names, or a bounded SCAN of the prefix.

    A slow SCAN's result is kept for ``DISCOVERY_CACHE_SECONDS``; after that the stale list
    is served while one background thread scans again (stale-while-revalidate).
    """
    if conn.queues is not None:
        return list(conn.queues)
    settings = conf.get_settings()
    key = (conn.url, conn.prefix, settings.scan_limit)
    with _discovery_lock:
        cached = _discovered.get(key)
        generation = _discovery_generation
        refresh = cached is not None and time.monotonic() >= cached[0] and key not in _refreshing
        if refresh:
            _refreshing.add(key)
    if cached is None:
        return _scan(key, settings.discovery_cache_seconds, generation)
    if refresh:
        threading.Thread(
            target=_background_scan,
            args=(key, settings.discovery_cache_seconds, generation),
            name="queue-dashboard-discovery",
            daemon=True,
        ).start()
    return list(cached[1])


def _scan(key: _DiscoveryKey, ttl: int, generation: int) -> list[str]:
    url, prefix, limit = key
    started = time.monotonic()
    names = sorted(queuecore.list_queues(url, prefix=prefix, limit=limit))
    took = time.monotonic() - started
    with _discovery_lock:
        if generation == _discovery_generation:
            if ttl and took >= SLOW_SCAN_SECONDS:
                _discovered[key] = (time.monotonic() + ttl, names)
            else:
                _discovered.pop(key, None)
    return list(names)


def _background_scan(key: _DiscoveryKey, ttl: int, generation: int) -> None:
    try:
        _scan(key, ttl, generation)
    except Exception:  # the next request scans in the foreground and shows the error
        with _discovery_lock:
            _discovered.pop(key, None)
    finally:
        with _discovery_lock:
            _refreshing.discard(key)


@conf.on_reset
def forget_discovered() -> None:
    global _discovery_generation
    with _discovery_lock:
        _discovered.clear()
        _discovery_generation += 1
