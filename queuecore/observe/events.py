"""QueueEvents: iterate over a queue's event stream (``<prefix>:<queue>:events``), blocking
or async, with BullMQ's event names and fields (every value a string, as stored)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from ..base.errors import QueueCoreError
from ..base.keys import QueueKeys
from ..transport import cluster
from ..transport.connection import ConnectionLike, async_client, sync_client
from ..transport.errors import wrap
from . import job_wait

log = logging.getLogger("queuecore")

#: A QueueEvents listener: called with each event of its name (a coroutine function too,
#: awaited in turn by ``run()``/``aread()``).
EventListener = Callable[["QueueEvent"], Any]


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """One entry of the stream: ``event`` is e.g. "completed"; ``fields`` holds the rest."""

    id: str
    event: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def job_id(self) -> str | None:
        return self.fields.get("jobId")

    def __getitem__(self, key: str) -> str:
        return self.fields[key]


def _decode(entries: Any) -> list[QueueEvent]:
    out = []
    for _stream, items in entries or []:
        for entry_id, values in items:
            data = dict(values)
            event = data.pop("event", "")
            out.append(QueueEvent(str(entry_id), str(event), data))
    return out


class QueueEvents:
    """``for ev in QueueEvents("emails", url): ...`` or ``async for ev in ...``.

    ``last_event_id`` "$" starts with events added from now on; "0" replays the stream.
    ``block_ms`` bounds each XREAD BLOCK so that ``close()`` is noticed.

    Or with callbacks, as BullMQ's ``queueEvents.on("completed", fn)``: register with
    ``on(event, fn)`` and run the reading loop with ``await run()`` (or ``run_sync()`` in a
    thread) until ``aclose()``/``close()``. Listeners are called for every event read,
    whichever way (iterating calls them too), in stream order.
    """

    def __init__(self, queue_name: str, connection: ConnectionLike = None, *,
                 prefix: str = "bull", last_event_id: str = "$", block_ms: int = 1000,
                 batch: int = 100) -> None:
        self.keys = QueueKeys.of(queue_name, prefix)
        self._connection = cluster.resolve(connection, self.keys.base)
        self.last_event_id = last_event_id
        self.block_ms = block_ms
        self.batch = batch
        self._closed = False
        self._sync: Any = None
        self._async: Any = None
        self._listeners: dict[str, list[EventListener]] = {}

    # -- callbacks --

    def on(self, event: str, listener: EventListener) -> EventListener:
        """Call ``listener(QueueEvent)`` for each event named ``event`` ("completed",
        "failed", "progress", ... or ``"*"`` for all) read from now on."""
        if not isinstance(event, str) or not event:
            raise ValueError("on() needs an event name")
        self._listeners.setdefault(event, []).append(listener)
        return listener

    def off(self, event: str, listener: EventListener) -> None:
        """Stop calling ``listener`` (nothing when it was not registered)."""
        listeners = self._listeners.get(event, [])
        if listener in listeners:
            listeners.remove(listener)

    def _targets(self, entry: QueueEvent) -> list[EventListener]:
        return [*self._listeners.get(entry.event, ()), *self._listeners.get("*", ())]

    def _dispatch(self, entries: list[QueueEvent]) -> None:
        if not self._listeners:
            return
        for entry in entries:
            for listener in self._targets(entry):
                try:
                    result = listener(entry)
                    if inspect.isawaitable(result):
                        close = getattr(result, "close", None)
                        if close is not None:
                            close()  # never awaited here: do not leave it pending
                        raise TypeError("a coroutine listener needs aread()/run()")
                except Exception:
                    log.exception("QueueEvents listener for %r raised", entry.event)

    async def _adispatch(self, entries: list[QueueEvent]) -> None:
        if not self._listeners:
            return
        for entry in entries:
            for listener in self._targets(entry):
                try:
                    result = listener(entry)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("QueueEvents listener for %r raised", entry.event)

    def _stopped(self) -> bool:
        """(A method: close() may have run while a read was blocked.)"""
        return self._closed

    async def run(self) -> None:
        """Read events and call the listeners until ``aclose()``."""
        while not self._closed:
            try:
                await self.aread()
            except QueueCoreError:
                if self._stopped():  # aclose() dropped the connection under the read
                    return
                raise

    def run_sync(self) -> None:
        """Read events and call the listeners until ``close()`` (from another thread)."""
        while not self._closed:
            try:
                self.read()
            except QueueCoreError:
                if self._stopped():  # close() dropped the connection under the read
                    return
                raise

    def _latest_id(self, entries: list[QueueEvent]) -> None:
        if entries:
            self.last_event_id = entries[-1].id

    def read(self, block_ms: int | None = None) -> list[QueueEvent]:
        """One blocking read of up to ``batch`` events after ``last_event_id``."""
        try:
            return self._read(block_ms)
        except redis.RedisError as exc:
            raise wrap(exc) from exc

    def _read(self, block_ms: int | None) -> list[QueueEvent]:
        if self._sync is None:
            self._sync = sync_client(self._connection, socket_timeout=None)
        if self.last_event_id == "$":
            self.last_event_id = self._current_last_id_sync()
        reply = self._sync.xread({self.keys.events: self.last_event_id}, count=self.batch,
                                 block=self.block_ms if block_ms is None else block_ms)
        entries = _decode(reply)
        self._latest_id(entries)
        self._dispatch(entries)
        return entries

    def _current_last_id_sync(self) -> str:
        info = self._sync.xrevrange(self.keys.events, count=1)
        return str(info[0][0]) if info else "0-0"

    async def aread(self, block_ms: int | None = None) -> list[QueueEvent]:
        """``read`` for asyncio code."""
        try:
            entries = await self._aread(block_ms)
        except redis.RedisError as exc:
            raise wrap(exc) from exc
        await self._adispatch(entries)
        return entries

    async def _aread(self, block_ms: int | None) -> list[QueueEvent]:
        if self._async is None:
            self._async = async_client(self._connection, socket_timeout=None)
        if self.last_event_id == "$":
            info = await self._async.xrevrange(self.keys.events, count=1)
            self.last_event_id = str(info[0][0]) if info else "0-0"
        reply = await self._async.xread({self.keys.events: self.last_event_id},
                                        count=self.batch,
                                        block=self.block_ms if block_ms is None else block_ms)
        entries = _decode(reply)
        self._latest_id(entries)
        return entries

    def job_result(self, job_id: str, timeout: float | None = None) -> Any:
        """Wait until job ``job_id`` of this queue finishes: its return value, or
        ``JobFailedError`` when it failed for good, ``WaitTimeoutError`` after ``timeout``
        seconds, ``JobNotFoundError`` when there is no such job. A job that finished before
        the call returns at once. It reads the stream itself (job_wait.py): iterating this
        ``QueueEvents`` elsewhere loses nothing to it. ``Job.wait_until_finished`` calls it."""
        deadline = job_wait.Deadline(job_id, timeout)
        try:
            if self._sync is None:
                self._sync = sync_client(self._connection, socket_timeout=None)
            pipe = self._sync.pipeline(transaction=False)
            for command in job_wait.snapshot_commands(self.keys, job_id):
                pipe.execute_command(*command)
            last, exists, values = pipe.execute()
            outcome = job_wait.from_hash(job_id, exists, values)
            after = job_wait.last_id(last)
            while outcome is None:
                reply = self._sync.xread({self.keys.events: after}, count=self.batch,
                                         block=deadline.block_ms())
                entries = _decode(reply)
                if entries:
                    after = entries[-1].id
                outcome = job_wait.from_events(job_id, entries)
        except redis.RedisError as exc:
            raise wrap(exc) from exc
        return outcome.result()

    async def ajob_result(self, job_id: str, timeout: float | None = None) -> Any:
        """``job_result`` for asyncio code."""
        deadline = job_wait.Deadline(job_id, timeout)
        try:
            if self._async is None:
                self._async = async_client(self._connection, socket_timeout=None)
            pipe = self._async.pipeline(transaction=False)
            for command in job_wait.snapshot_commands(self.keys, job_id):
                pipe.execute_command(*command)
            last, exists, values = await pipe.execute()
            outcome = job_wait.from_hash(job_id, exists, values)
            after = job_wait.last_id(last)
            while outcome is None:
                reply = await self._async.xread({self.keys.events: after}, count=self.batch,
                                                block=deadline.block_ms())
                entries = _decode(reply)
                if entries:
                    after = entries[-1].id
                outcome = job_wait.from_events(job_id, entries)
        except redis.RedisError as exc:
            raise wrap(exc) from exc
        return outcome.result()

    def __iter__(self) -> Iterator[QueueEvent]:
        while not self._closed:
            yield from self.read()

    async def __aiter__(self) -> AsyncIterator[QueueEvent]:
        while not self._closed:
            for entry in await self.aread():
                yield entry

    def close(self) -> None:
        """Stop iterating (noticed within ``block_ms``) and release the sync connection."""
        self._closed = True
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        self._closed = True
        if self._async is not None:
            await self._async.aclose()
