"""The sync client's held connection for lone script calls (the sync Queue's adds)."""

from __future__ import annotations

import os
import threading
from typing import Any

import redis

from ..commands.op import ScriptCall
from .calls import ScriptPacker


class DirectConnection:
    """One connection of a sync client's pool, held for the script calls of its hot ops (adds
    above all): one send and one read per call, without redis-py's per-command layers or a
    pool checkout per call. Used by one thread at a time; a thread that finds it busy uses
    the pool. A command is never sent twice: when the connection fails after the request
    was written, the error says the command may or may not have run."""

    __slots__ = ("_conn", "_lock", "_packer", "_pid", "_pool")

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._conn: Any = None
        self._pid = 0
        self._lock = threading.Lock()
        self._packer = ScriptPacker()

    def try_call(self, call: ScriptCall) -> tuple[bool, Any]:
        """(True, reply), or (False, None) when another thread holds the connection."""
        if not self._lock.acquire(blocking=False):
            return False, None
        try:
            return True, self._call(call)
        finally:
            self._lock.release()

    def _ready(self) -> Any:
        conn = self._conn
        if conn is None or self._pid != os.getpid():
            # Checked out for good: the pool still owns it (disconnect() closes it too).
            conn = self._conn = self._pool.get_connection()
            self._pid = os.getpid()
            return conn
        # As the pool checks a connection it hands out: reconnect one that has gone stale
        # (a restarted server). Nothing has been sent yet, so this retries nothing.
        try:
            conn.connect()
            if conn.can_read():
                raise redis.ConnectionError("connection has unread data")
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            conn.disconnect()
            conn.connect()
            if conn.can_read():
                raise redis.ConnectionError("connection not ready") from None
        return conn

    def _call(self, call: ScriptCall) -> Any:
        packed = self._packer.pack(call)
        conn = self._ready()
        conn.send_packed_command([packed], True)  # on failure: disconnects and raises
        try:
            return conn.read_response()
        except redis.ResponseError:
            raise  # a reply: the connection is in step
        except redis.TimeoutError as exc:
            conn.disconnect()
            raise redis.TimeoutError(
                f"no reply from Redis to {call.script.name} in time: it may still run ({exc})"
            ) from exc
        except (redis.ConnectionError, OSError) as exc:
            conn.disconnect()
            raise redis.ConnectionError(
                f"lost the connection to Redis waiting for the reply to {call.script.name}: "
                f"it may or may not have run ({exc})") from exc
        except BaseException:
            conn.disconnect()
            raise

    def drop(self) -> None:
        """Forget the connection (its client is being replaced or closed)."""
        self._conn = None

    def reset(self) -> None:
        """Close the held connection; the next call connects anew (after READONLY)."""
        with self._lock:
            if self._conn is not None:
                self._conn.disconnect()
