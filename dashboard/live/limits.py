"""Per-user caps of one server process: open sockets and incoming messages.

One user's tabs, scripts or a stuck reconnect loop must not take the server from everyone
else. Each user (by primary key) may hold ``LIVE_SOCKETS_PER_USER`` sockets at once and send
``LIVE_MESSAGES_PER_SECOND`` messages a second on average, in bursts of up to
``LIVE_MESSAGE_BURST`` (a token bucket; a handshake costs a token too, so reconnecting in a
loop is counted). A socket over a cap is closed with a code the page explains (``CLOSE``).

Counted per process (each daphne process has its own): behind N processes a user may hold N
times the cap, which still bounds every process. Buckets of users who went quiet are dropped
once they are full again (a full bucket is the same as none), so memory follows active users.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from dashboard import conf

#: Close codes (4000-4999 are the application's; the page tells them apart).
TOO_MANY_SOCKETS = 4409
TOO_MANY_MESSAGES = 4429
STALLED = 4408
#: Buckets kept before full ones are pruned.
PRUNE_AT = 1000


@dataclass(slots=True)
class Bucket:
    tokens: float
    at: float


@dataclass(slots=True)
class UserLimits:
    """The sockets and message buckets of one event loop's users."""

    sockets: dict[Any, set[int]] = field(default_factory=dict)
    buckets: dict[Any, Bucket] = field(default_factory=dict)

    def open(self, user_id: Any, token: int) -> bool:
        """Count socket ``token`` for the user; False (nothing counted) when at the cap."""
        held = self.sockets.setdefault(user_id, set())
        if token not in held and len(held) >= conf.get_settings().live_sockets_per_user:
            if not held:
                del self.sockets[user_id]
            return False
        held.add(token)
        return True

    def close(self, user_id: Any, token: int) -> None:
        held = self.sockets.get(user_id)
        if held is None:
            return
        held.discard(token)
        if not held:
            del self.sockets[user_id]

    def open_count(self, user_id: Any) -> int:
        return len(self.sockets.get(user_id, ()))

    def take(self, user_id: Any, now: float | None = None) -> bool:
        """Spend one message token of the user; False when the bucket is empty."""
        settings = conf.get_settings()
        rate, burst = settings.live_messages_per_second, settings.live_message_burst
        now = time.monotonic() if now is None else now
        bucket = self.buckets.get(user_id)
        if bucket is None:
            if len(self.buckets) >= PRUNE_AT:
                self._prune(now, rate, burst)
            bucket = self.buckets[user_id] = Bucket(float(burst), now)
        else:
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def _prune(self, now: float, rate: int, burst: int) -> None:
        for user_id, bucket in list(self.buckets.items()):
            if bucket.tokens + (now - bucket.at) * rate >= burst:
                del self.buckets[user_id]


_limits: weakref.WeakKeyDictionary[Any, UserLimits] = weakref.WeakKeyDictionary()


def limits() -> UserLimits:
    """The caps of the running event loop (daphne has one; each test has its own)."""
    loop = asyncio.get_running_loop()
    found = _limits.get(loop)
    if found is None:
        found = _limits[loop] = UserLimits()
    return found
