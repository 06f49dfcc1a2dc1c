"""The Redis page of a connection (version, memory, eviction policy) and the health ping."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard import connections
from dashboard.formatting import format_duration
from dashboard.services.common import READ_ERRORS, describe


@dataclass(frozen=True, slots=True)
class RedisSummary:
    connection: str
    version: str = ""
    used_memory: str = ""
    maxmemory: str = ""
    maxmemory_policy: str = ""
    clients: str = ""
    uptime: str = ""
    mode: str = ""
    error: str = ""

    @property
    def policy_ok(self) -> bool:
        return self.maxmemory_policy == "noeviction"


def redis_summary(connection: str) -> RedisSummary:
    # Any queue object reaches the server; the name is never used to build a key here.
    queue = connections.get_queue(connection, "_")
    try:
        info = queue.redis_info()
    except READ_ERRORS as exc:
        return RedisSummary(connection=connection, error=describe(exc))
    uptime = info.get("uptime_in_seconds")
    return RedisSummary(
        connection=connection,
        version=str(info.get("redis_version", "")),
        used_memory=str(info.get("used_memory_human", info.get("used_memory", ""))),
        maxmemory=str(info.get("maxmemory_human", info.get("maxmemory", ""))),
        maxmemory_policy=str(info.get("maxmemory_policy", "")),
        clients=str(info.get("connected_clients", "")),
        uptime=format_duration(int(uptime) * 1000)
        if isinstance(uptime, int)
        else str(uptime or ""),
        mode=str(info.get("redis_mode", "")),
    )


def ping(connection: str) -> str:
    """``""`` when the connection answers, else the reason."""
    try:
        connections.get_queue(connection, "_").redis_info()
    except READ_ERRORS as exc:
        return describe(exc)
    return ""
