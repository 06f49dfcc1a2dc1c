"""Listening for cancel requests from other processes (``Worker(remote_cancel=True)``): one
pub/sub connection on the queue's cancel channel; a request for a job this worker runs
cancels its signal, any other is ignored."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from ..client.aqueue import AsyncQueue
from ..transport.connection import async_client
from .state import RunState
from .trouble import TroubleReporter

log = logging.getLogger("queuecore.worker")


class RemoteCancelListener:
    def __init__(self, queue: AsyncQueue, state: RunState, trouble: TroubleReporter,
                 cancel: Callable[[str, str | None], bool]) -> None:
        self._queue = queue
        self._channel = queue.keys.cancel_channel
        self._state = state
        self._trouble = trouble
        self._cancel = cancel
        self._client: Any = None
        self._pubsub: Any = None

    async def subscribe(self) -> None:
        """Subscribe before the worker is ready, so a request sent after ``ready`` is heard;
        best effort while Redis is away (the loop subscribes again)."""
        self._client = async_client(self._queue.resolved_connection, socket_timeout=None)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._pubsub.subscribe(self._channel)
        except Exception as exc:
            await self._trouble.connection_trouble(exc)

    async def run_forever(self) -> None:
        state = self._state
        try:
            while not state.closing.is_set():
                try:
                    if not self._pubsub.subscribed:
                        await self._pubsub.subscribe(self._channel)
                    message = await self._pubsub.get_message(timeout=0.5)
                except Exception as exc:  # redis-py's pub/sub reconnects on the next call
                    await self._trouble.connection_trouble(exc)
                    continue
                if message is not None and message.get("type") == "message":
                    self._handle(message.get("data"))
        finally:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            with contextlib.suppress(Exception):
                await self._client.aclose()

    def _handle(self, data: Any) -> None:
        """A request: ``{"jobId": ..., "reason": ...}``; anything else is logged, skipped."""
        try:
            request = json.loads(data)
            job_id = request["jobId"]
            reason = request.get("reason")
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("ignored a malformed cancel request on %s", self._channel)
            return
        if isinstance(job_id, str | int) and not isinstance(job_id, bool):
            self._cancel(str(job_id), None if reason is None else str(reason))

