"""A small event emitter: listeners may be plain functions or coroutine functions."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger("queuecore")

Listener = Callable[..., Any]


class Emitter:
    def __init__(self, events: frozenset[str]) -> None:
        self._events = events
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._pending: set[asyncio.Task[Any]] = set()

    def on(self, event: str, listener: Listener) -> Listener:
        if event not in self._events:
            raise ValueError(f"unknown event {event!r}; expected one of {sorted(self._events)}")
        self._listeners[event].append(listener)
        return listener

    def off(self, event: str, listener: Listener) -> None:
        if listener in self._listeners.get(event, []):
            self._listeners[event].remove(listener)

    def emit(self, event: str, *args: Any) -> None:
        listeners = self._listeners.get(event)
        if not listeners:  # the common case, twice a job on a worker's hot path
            return
        for listener in list(listeners):
            try:
                result = listener(*args)
                if result is not None and inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._pending.add(task)
                    task.add_done_callback(self._done)
            except Exception:
                log.exception("listener for %r raised", event)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("listener task raised", exc_info=task.exception())
