"""The worker's Redis clients, and following the queue's slot in Redis Cluster.

- the command client: the worker's ``AsyncQueue``, auto-pipelined (many finish calls in
  flight at once);
- the blocking client: BZPOPMIN on the marker, named so that ``getWorkers`` lists the worker;
- the presence client: the same name in Python bullmq's form, pinged to stay listed;
- the sync ``Queue`` that a sync processor's ``Job`` calls from its thread, and the renewal
  ``Queue`` of the lock renewer's thread (each thread its own connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..client.aqueue import AsyncQueue
from ..client.queue import Queue
from ..transport.connection import async_client, eviction_policy
from ..transport.errors import CONNECTION_ERRORS
from .state import RunState
from .trouble import TroubleReporter

log = logging.getLogger("queuecore.worker")


class WorkerConnections:
    """``block`` and ``presence`` are made by ``open()`` for each run; ``block_id`` is the
    blocking connection's CLIENT ID (None until known, and after it dropped)."""

    def __init__(self, queue: AsyncQueue, client_name: str, presence_name: str,
                 state: RunState, trouble: TroubleReporter) -> None:
        self.queue = queue
        self.client_name = client_name
        self.presence_name = presence_name
        self._state = state
        self._trouble = trouble
        # In Cluster: the route to the queue's slot (shared with the command client) and the
        # master the blocking and presence connections were made for.
        self._route = queue.route
        self._owner = queue.route.owner if queue.route is not None else None
        self._following = asyncio.Lock()
        self.block: Any = None
        self.presence: Any = None
        self.block_id: int | None = None
        self._sync_queue: Queue | None = None

    def open(self) -> None:
        resolved = self.queue.connection if self._route is None else \
            self._route.connection(self._owner)
        self.block = async_client(resolved, socket_timeout=None, socket_connect_timeout=5,
                                  client_name=self.client_name, single_connection_client=True)
        self.presence = async_client(resolved, client_name=self.presence_name,
                                     single_connection_client=True)

    @property
    def _connection(self) -> Any:
        """``connection=`` for the worker's other queues: in Cluster seeded with every node
        the route knows (the seed given may be the master that died)."""
        return self.queue.connection if self._route is None else self._route.spec()

    async def announce(self) -> None:
        """Connect (and so name) the blocking and presence connections now, so that the
        worker is listed by every peer's getWorkers from the start; best effort while Redis
        is away (the next block or renewal reconnects)."""
        try:
            self.block_id = int(await self.block.client_id())
            await self.presence.ping()
        except CONNECTION_ERRORS as exc:
            self.block_id = None
            await self._trouble.connection_trouble(exc)
            return
        policy = await eviction_policy(self.queue.client)
        if policy not in ("noeviction", None):
            log.warning("Redis maxmemory-policy is %r: under memory pressure Redis may DELETE "
                        "job data of queue %r. Set maxmemory-policy noeviction.", policy,
                        self.queue.name)

    async def follow_slot(self, unreachable: bool = False) -> None:
        """In Cluster, after MOVED or (``unreachable``) a connection error: ask the route for
        the slot's master, waiting for a failover, and block and announce there. Raises
        redis-py's ConnectionError when no master took over in time."""
        route = self._route
        if route is None:
            return
        async with self._following:  # the fetcher and the presence loop may both ask
            if unreachable:
                owner = await route.alocate(self._owner)
            elif route.owner != self._owner:
                owner = route.owner  # the command client found it already
            else:
                owner = await route.alocate()
            if owner != self._owner:
                self._owner = owner
                await self.renew_clients()

    async def renew_clients(self) -> None:
        """New blocking and presence connections (the old ones reach a node that no longer
        serves the queue), announced at once."""
        old = (self.block, self.presence)
        self.open()
        self.block_id = None
        for client in old:
            with contextlib.suppress(Exception):
                await client.aclose()
        await self.announce()

    async def unblock(self, block_task: asyncio.Future[Any] | None) -> None:
        """Wake the blocked BZPOPMIN with CLIENT UNBLOCK (from the command client), or where
        that is refused (ACL) or Redis is away, cancel the call."""
        if block_task is None or block_task.done():
            return
        try:
            if self.block_id is not None:
                await self.queue.client.client_unblock(self.block_id)
        except Exception:  # no permission (ACL) or Redis away: cancel the blocked call
            if not block_task.done():
                block_task.cancel()

    async def keep_presence_forever(self, interval_s: float) -> None:
        """Ping the presence connection, which reconnects (and renames) after an outage; in
        Cluster, move it (and the blocking one) to the slot's master when the command client
        found a new one, or when the ping finds the master gone."""
        while not self._state.closing.is_set():
            await self._state.wait_any(asyncio.sleep(interval_s))
            try:
                if self._route is not None and self._route.owner != self._owner:
                    await self.follow_slot()
                await self.presence.ping()
            except CONNECTION_ERRORS:
                if self._route is not None and not self._state.closing.is_set():
                    await self._state.wait_any(self.follow_unreachable())

    async def follow_unreachable(self) -> None:
        """``follow_slot`` after a connection error; no master found in time is reported
        (the next error asks again)."""
        try:
            await self.follow_slot(unreachable=True)
        except CONNECTION_ERRORS as exc:
            await self._trouble.connection_trouble(exc)

    def sync_queue(self) -> Queue:
        """The blocking ``Queue`` the ``Job`` of a sync processor uses (made on first use)."""
        if self._sync_queue is None:
            self._sync_queue = Queue(self.queue.name, self._connection,
                                     prefix=self.queue.keys.prefix,
                                     max_data_size=self.queue.max_data_size)
            self._sync_queue.on_job_moved = self.queue.on_job_moved  # from its thread
        return self._sync_queue

    def renewal_queue(self, socket_timeout: float) -> Queue:
        """A blocking ``Queue`` of its own for the lock renewer's thread."""
        return Queue(self.queue.name, self._connection, prefix=self.queue.keys.prefix,
                     socket_timeout=socket_timeout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.block.aclose()
        with contextlib.suppress(Exception):
            await self.presence.aclose()
        with contextlib.suppress(Exception):
            await self.queue.close()
        if self._sync_queue is not None:
            self._sync_queue.close()
            self._sync_queue = None
