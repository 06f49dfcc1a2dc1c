"""The websocket consumer: group membership, and messages turned into method calls.

Reads live in ``sessions`` (and through it ``services``); access checks in ``access``;
per-user caps in ``limits``; whether the client keeps up with what it is sent in
``transport``.

Bounded work per message: ``receive`` only checks the size and the user's message budget,
parses the JSON and keeps it as the latest view; one task per socket applies the latest view
(after asking the database again), so a burst of messages costs one access check and one
re-subscription, never a queue of them. What the page sends is a JSON object of its view
(``state``, ``page``, ``size``, ``order``, ``paused``, ``logs_total``, ``logs_tail``);
anything else (binary frames, text that is not such an object, an object with other keys,
text over ``LIVE_MAX_MESSAGE_BYTES``) is ignored, though it counts against the user's budget
and, unless over the size, has the user checked again like any message.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from dashboard import conf
from dashboard.live import access, limits, notify, services
from dashboard.live.sessions import Key, LiveSession, Target, safe_namespace
from dashboard.live.shown import parse_shown
from dashboard.live.transport import WriteWatch, find_protocol

log = logging.getLogger(__name__)

_sockets = itertools.count(1)
#: What a page's view message may hold: its form's fields and htmx's ``HEADERS``. Anything
#: else (``{"type": "subscribe", ...}``) is not ours and is ignored.
VIEW_KEYS = frozenset({"state", "page", "size", "order", "paused", "logs_total", "logs_tail",
                       "queues", "HEADERS"})


# channels ships no type information (ignore_missing_imports in pyproject.toml), so its base
# class is Any to mypy; this class's own methods are still checked.
class LiveConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """One page's socket: the overview, a queue's list or a job (from the URL route)."""

    session: LiveSession | None = None
    _recheck: asyncio.Task[None] | None = None
    _groups: tuple[str, ...] = ()
    _closed = False
    _user_id: Any = None
    _counted = False
    _watch: WriteWatch | None = None
    _latest: dict[str, Any] | None = None
    _unapplied = False
    _applying: asyncio.Task[None] | None = None
    _sending: asyncio.Task[None] | None = None
    _candidates: list[Key] | None = None
    _ending: asyncio.Task[None] | None = None
    _shown: frozenset[Key] | None = None  # the overview page's queues (``shown``)

    # -- lifecycle --

    async def connect(self) -> None:
        route = self.scope["url_route"]["kwargs"]
        self.target = Target(kind=route["kind"], connection=route.get("connection", ""),
                             queue=route.get("queue", ""), job_id=route.get("job_id", ""))
        self.token = next(_sockets)
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        if self.target.kind == "overview" and self._query().get("shown") == "page":
            self._shown = frozenset()  # the page names its queues first (``shown``)
        # The handshake's user (resolved by AuthMiddleware) is counted before the costlier
        # access check, so a user over a cap costs no more than this.
        early = _scope_user_id(self.scope)
        if early is not None and not await self._count(early):
            return
        verdict = await self._verdict()
        if not verdict.allowed:
            self._uncount()
            await self.close(code=verdict.code)  # before accept: the handshake is refused
            return
        if early is None and not await self._count(verdict.user_id):
            return
        await self.accept()
        self._watch_writes()
        query = self._query()
        self.session = LiveSession(self._send_html, self.target, safe_namespace(query.get("ns")),
                                   await_view=query.get("view") == "page",
                                   script_prefix=self._script_prefix(), held=self._held)
        groups = [notify.ALL_GROUP, notify.user_group(verdict.user_id)]
        groups += [notify.queue_group(*k) for k in verdict.keys]
        await self._join(groups)
        await self.session.watch(list(verdict.keys))
        self._recheck = asyncio.get_running_loop().create_task(self._recheck_loop())

    async def _count(self, user_id: Any) -> bool:
        """Spend a message token and take a socket slot of the user, or close the handshake
        (accepted first, so that the page sees the code and does not retry at once)."""
        caps = limits.limits()
        code = 0
        if not caps.take(user_id):
            code = limits.TOO_MANY_MESSAGES
        elif not caps.open(user_id, self.token):
            code = limits.TOO_MANY_SOCKETS
        if code:
            log.info("live socket of user %s refused with %s (%d open)", user_id, code,
                     caps.open_count(user_id))
            self._closed = True
            await self.accept()
            await self.close(code=code)
            return False
        self._user_id, self._counted = user_id, True
        return True

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            limits.limits().close(self._user_id, self.token)

    async def disconnect(self, code: int) -> None:
        self._closed = True
        self._uncount()
        if self._watch is not None:
            self._watch.close()
        for task in (self._recheck, self._applying):
            # Not the task running this teardown (the recheck loop ends here through
            # ``_end``): cancelling it would stop the rest of the teardown at its first
            # await, leaving feeds registered; the loops end on ``_closed`` instead.
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if self.session is not None:
            await self.session.unwatch()
        await self._join([])

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is None or self._closed:
            return
        if not limits.limits().take(self._user_id):
            log.info("live socket of user %s closed: over the message rate", self._user_id)
            await self._end(limits.TOO_MANY_MESSAGES)
            return
        if text_data is None or len(text_data) > conf.get_settings().live_max_message_bytes:
            return  # dropped unread: no page sends binary frames or views this long
        try:
            data = json.loads(text_data)
        except ValueError:
            data = None
        self._unapplied = True  # every message has the user checked again, even a bad one
        if isinstance(data, dict) and data.keys() <= VIEW_KEYS:
            self._latest = data
        else:
            log.debug("live socket of user %s: a message that is no view, ignored",
                      self._user_id)
        if self._applying is None or self._applying.done():
            self._applying = asyncio.get_running_loop().create_task(self._apply())

    async def _apply(self) -> None:
        """Check the user again and apply the latest view the page sent (views that came
        meanwhile are dropped unread: only the newest one matters)."""
        while self._unapplied and not self._closed and self.session is not None:
            data, self._latest, self._unapplied = self._latest, None, False
            if data is not None and self.target.kind == "overview" and "queues" in data:
                self._shown = parse_shown(data["queues"])
            if not await self.recheck(rescan=False):
                return
            if data is not None:
                self.session.set_view(data)
                await self.session.set_paused(data.get("paused") == "1")

    async def _end(self, code: int) -> None:
        if self._closed:
            return
        # Leave the feeds before the close goes out: once the client sees the close, this
        # socket holds no reader (stopping one feed yields, so the other way round the
        # client could see the close while the next feed is still registered).
        await self.disconnect(code)
        await self.close(code=code)

    # -- channel layer events --

    async def queue_notice(self, event: dict[str, Any]) -> None:
        if self.session is not None:
            level = event.get("level", "info")
            self.session.notice(str(event.get("text", ""))[:500],
                                level if level in ("info", "success", "error") else "info")

    async def access_changed(self, event: dict[str, Any]) -> None:
        await self.recheck()

    # -- helpers --

    async def recheck(self, *, rescan: bool = True) -> bool:
        """Ask again whether the user may watch; close the socket when not. ``rescan``:
        list the overview's queues again (a page's message reuses the last list)."""
        if self._closed:
            return False
        verdict = await self._verdict(rescan=rescan)
        if not verdict.allowed:
            await self._end(verdict.code)
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

    async def _verdict(self, *, rescan: bool = True) -> access.Verdict:
        candidates: list[Key] = []
        if self.target.kind == "overview":
            if rescan or self._candidates is None:
                for conn in conf.get_settings().connections:
                    try:
                        candidates += [(conn.name, n)
                                       for n in await services.queue_names(conn.name)]
                    except services.READ_ERRORS as exc:
                        log.warning("cannot list the queues of %s: %s", conn.name, exc)
                self._candidates = candidates
            candidates = self._candidates
            if self._shown is not None:
                candidates = [k for k in candidates if k in self._shown]
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

    # -- output: never into a client that does not read --

    def _watch_writes(self) -> None:
        protocol = find_protocol(self.base_send)
        if protocol is None:
            return
        stalled = float(conf.get_settings().live_stalled_seconds)
        watch = WriteWatch(protocol, self._drained, self._stalled, stalled)
        if watch.registered:
            self._watch = watch

    def _held(self) -> bool:
        """True while the client has not read what it was sent: its changes wait (merged)."""
        if self._watch is not None:
            return self._watch.behind
        return self._sending is not None and not self._sending.done()

    def _drained(self) -> None:
        if self.session is not None and not self._closed:
            self.session.resume()

    def _stalled(self) -> None:
        log.info("live socket of user %s closed: its client read nothing for %s s",
                 self._user_id, conf.get_settings().live_stalled_seconds)
        # Kept: the loop holds only a weak reference to a task.
        self._ending = asyncio.get_running_loop().create_task(self._end(limits.STALLED))

    async def _send_html(self, html: str) -> None:
        if self._closed:
            return
        if self._watch is None:
            # No view of the write buffer (another ASGI server, whose send may wait for the
            # client): send in a task, so that one slow client never holds up a tick.
            self._sending = asyncio.get_running_loop().create_task(self._deliver(html))
            return
        await self._deliver(html)

    async def _deliver(self, html: str) -> None:
        try:
            await self.send(text_data=html)
        except Exception:  # the client went away before the server saw it: stop sending
            self._closed = True
            if self.session is not None:
                await self.session.unwatch()
            return
        if self._watch is None and self.session is not None and not self._closed:
            self.session.resume()

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


def _scope_user_id(scope: dict[str, Any]) -> Any:
    """The primary key of the handshake's user when AuthMiddleware resolved one, else None
    (never a database query here: the lazy object raises until it is resolved)."""
    user = scope.get("user")
    if user is None:
        return None
    try:
        return user.pk if user.is_authenticated else None
    except ValueError:  # channels' UserLazyObject before AuthMiddleware resolved it
        return None
