"""The websocket consumer: group membership, and messages turned into method calls.

Reads live in ``sessions`` (and through it ``services``); access checks in ``access``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from dashboard import conf
from dashboard.live import access, notify, services
from dashboard.live.sessions import Key, LiveSession, Target, safe_namespace

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096


# channels ships no type information (ignore_missing_imports in pyproject.toml), so its base
# class is Any to mypy; this class's own methods are still checked.
class LiveConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """One page's socket: the overview, a queue's list or a job (from the URL route)."""

    session: LiveSession | None = None
    _recheck: asyncio.Task[None] | None = None
    _groups: tuple[str, ...] = ()
    _closed = False

    # -- lifecycle --

    async def connect(self) -> None:
        route = self.scope["url_route"]["kwargs"]
        self.target = Target(kind=route["kind"], connection=route.get("connection", ""),
                             queue=route.get("queue", ""), job_id=route.get("job_id", ""))
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        verdict = await self._verdict()
        if not verdict.allowed:
            await self.close(code=verdict.code)  # before accept: the handshake is refused
            return
        await self.accept()
        query = self._query()
        self.session = LiveSession(self._send_html, self.target, safe_namespace(query.get("ns")),
                                   await_view=query.get("view") == "page",
                                   script_prefix=self._script_prefix())
        groups = [notify.ALL_GROUP, notify.user_group(verdict.user_id)]
        groups += [notify.queue_group(*k) for k in verdict.keys]
        await self._join(groups)
        await self.session.watch(list(verdict.keys))
        self._recheck = asyncio.get_running_loop().create_task(self._recheck_loop())

    async def disconnect(self, code: int) -> None:
        self._closed = True
        if self._recheck is not None and self._recheck is not asyncio.current_task():
            # Not when called from the recheck loop itself: that would cancel the rest of
            # this teardown at its first await, leaving feeds registered; the loop ends on
            # ``_closed`` instead.
            self._recheck.cancel()
        if self.session is not None:
            await self.session.unwatch()
        await self._join([])

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is None or not text_data or len(text_data) > MAX_MESSAGE:
            return
        if not await self.recheck():
            return
        try:
            data = json.loads(text_data)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        self.session.set_view(data)
        await self.session.set_paused(data.get("paused") == "1")

    # -- channel layer events --

    async def queue_notice(self, event: dict[str, Any]) -> None:
        if self.session is not None:
            level = event.get("level", "info")
            self.session.notice(str(event.get("text", ""))[:500],
                                level if level in ("info", "success", "error") else "info")

    async def access_changed(self, event: dict[str, Any]) -> None:
        await self.recheck()

    # -- helpers --

    async def recheck(self) -> bool:
        """Ask again whether the user may watch; close the socket when not."""
        verdict = await self._verdict()
        if not verdict.allowed:
            # Leave the feeds before the close goes out: once the client sees the close, this
            # socket holds no reader (stopping one feed yields, so the other way round the
            # client could see the close while the next feed is still registered).
            await self.disconnect(verdict.code)
            await self.close(code=verdict.code)
            return False
        if self.session is not None and set(verdict.keys) != set(self.session.keys):
            groups = [notify.ALL_GROUP, notify.user_group(verdict.user_id)]
            await self._join(groups + [notify.queue_group(*k) for k in verdict.keys])
            await self.session.watch(list(verdict.keys))
        return True

    async def _recheck_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(conf.get_settings().live_recheck_seconds)
            await self.recheck()

    async def _verdict(self) -> access.Verdict:
        candidates: list[Key] = []
        if self.target.kind == "overview":
            for conn in conf.get_settings().connections:
                try:
                    candidates += [(conn.name, n) for n in await services.queue_names(conn.name)]
                except services.READ_ERRORS as exc:
                    log.warning("cannot list the queues of %s: %s", conn.name, exc)
        # channels' wrapper is untyped: the annotation restores access.verdict's result type.
        verdict: access.Verdict = await database_sync_to_async(access.verdict)(
            self.session_key, self.target, candidates)
        return verdict

    async def _join(self, groups: list[str]) -> None:
        if self.channel_layer is None:
            return
        for group in set(self._groups) - set(groups):
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in set(groups) - set(self._groups):
            await self.channel_layer.group_add(group, self.channel_name)
        self._groups = tuple(groups)

    async def _send_html(self, html: str) -> None:
        if self._closed:
            return
        try:
            await self.send(text_data=html)
        except Exception:  # the client went away before the server saw it: stop sending
            self._closed = True
            if self.session is not None:
                await self.session.unwatch()

    def _script_prefix(self) -> str:
        """What Django's ASGI handler takes as the script prefix of this socket's pages."""
        from django.conf import settings

        forced: str | None = settings.FORCE_SCRIPT_NAME
        root: str = forced if forced else str(self.scope.get("root_path") or "")
        return root.rstrip("/") + "/"

    def _query(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        raw = self.scope.get("query_string", b"").decode("latin-1")
        return dict(parse_qsl(raw))
