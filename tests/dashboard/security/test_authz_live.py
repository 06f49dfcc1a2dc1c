"""Websocket access: who may open each live socket, what each
message type does for whom, and that foreign origins and anonymous users are refused before
the handshake is accepted (no Redis reader is ever started for them)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session

from dashboard.live import feeds
from queuecore import Queue
from tests.dashboard.live_helpers import collect, communicator, session_cookie, texts, wait_for
from tests.dashboard.security.conftest import ROLES, make_role
from tests.waiting import TIMEOUT, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(30)]

#: Every live route, by the page kind its consumer serves.
KINDS = {
    "overview": "",
    "queue": "default/q/emails/",
    "job": "default/q/emails/jobs/1/",
}
ACCEPTED = 0
#: role -> the handshake's outcome: accepted, or the close code sent instead of an accept.
CONNECT = {
    "anonymous": 4401,
    "nonstaff": 4403,
    "staff": 4403,
    "view": ACCEPTED,
    "manage": ACCEPTED,
    "superuser": ACCEPTED,
    "manage_no_view": 4403,
}

#: Every message type a page sends, with the kind of page that sends it, the message, and
#: the text a fragment answering it holds ("" when it answers with no fragment).
MESSAGES: dict[str, tuple[str, str, str]] = {
    "list-view": ("queue", json.dumps({"state": "delayed", "page": "1", "size": "5"}), "later"),
    "log-view": ("job", json.dumps({"logs_total": "0", "logs_tail": "1"}), "log-line-one"),
    "pause": ("overview", json.dumps({"paused": "1"}), ""),
    "malformed": ("queue", "{not json", ""),
    "not-an-object": ("queue", "[1, 2]", ""),
    "unknown-type": ("queue", json.dumps({"type": "subscribe", "state": "delayed"}), ""),
    "oversized": ("queue", json.dumps({"state": "delayed", "pad": "x" * 5000}), ""),
}

#: How a user who was allowed loses it while the socket is open, without any notice from
#: Django's signals (queryset updates): the next message alone must close the socket.
DOWNGRADES: dict[str, tuple[Callable[[User], None], int]] = {
    "anonymous": (lambda u: Session.objects.all().delete(), 4401),
    "inactive": (lambda u: User.objects.filter(pk=u.pk).update(is_active=False), 4401),
    "nonstaff": (lambda u: User.objects.filter(pk=u.pk).update(is_staff=False), 4403),
    "staff": (lambda u: User.user_permissions.through.objects.filter(user=u).delete(), 4403),
}


@pytest.fixture
def live(settings: Any, dash_redis: str) -> Any:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "LIVE_RECHECK_SECONDS": 3600}
    queue = Queue("emails", connection=dash_redis)
    job = queue.add("first", {"n": 1})
    job.log("log-line-one")
    queue.add("later", {"n": 2}, delay=3_600_000)
    yield queue
    queue.close()


async def _session(make_user: Callable[..., User], role: str) -> tuple[User | None, str | None]:
    def make() -> tuple[User | None, str | None]:
        user = make_role(make_user, role)
        return user, (session_cookie(user) if user is not None else None)

    return await database_sync_to_async(make)()


async def _first_refresh(comm: Any) -> None:
    await wait_for(comm, lambda t: "hx-swap-oob" in t)


async def _until_closed(comm: Any, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    """Every message up to and including the close (or all of them after ``timeout``)."""
    out: list[dict[str, Any]] = []

    async def closed() -> bool:
        out.extend(await collect(comm, 0))
        return any(m["type"] == "websocket.close" for m in out)

    with contextlib.suppress(AssertionError):
        await wait_until(closed, timeout=timeout)
    return out


#: For each kind of page, a message that gets an answer, and that answer: sent after a
#: message that gets none, its answer shows that the first was handled (messages are handled
#: in order) and did not close the socket.
PROBES: dict[str, tuple[str, str]] = {
    "overview": (json.dumps({"paused": "0"}), "hx-swap-oob"),
    "queue": MESSAGES["list-view"][1:],
}


async def _probe(comm: Any, kind: str) -> list[str]:
    text, answer = PROBES[kind]
    await comm.send_to(text_data=text)
    return await wait_for(comm, lambda t: answer in t)


async def _close_code(comm: Any) -> int:
    """Connect; ``ACCEPTED`` or the code of a close sent before any accept."""
    connected, code = await comm.connect()
    if connected:
        return ACCEPTED
    assert isinstance(code, int)
    return code


def test_every_live_route_and_role_is_declared() -> None:
    from dashboard.routing import websocket_urlpatterns

    assert {p.default_args["kind"] for p in websocket_urlpatterns} == set(KINDS)
    assert set(CONNECT) == set(ROLES)
    assert {kind for kind, _, _ in MESSAGES.values()} <= set(KINDS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_live_handshake_by_role(
    kind: str, role: str, live: Any, make_user: Callable[..., User]
) -> None:
    _, cookie = await _session(make_user, role)
    comm = communicator(KINDS[kind], cookie)
    code = await _close_code(comm)
    assert code == CONNECT[role], f"{kind} socket as {role}"
    if code == ACCEPTED:
        await comm.disconnect()
    else:
        assert feeds.registry().feeds == {}, "a refused socket started a Redis reader"


@pytest.mark.parametrize("role", [r for r in ROLES if CONNECT[r] == ACCEPTED])
@pytest.mark.parametrize("message", list(MESSAGES))
async def test_message_types_for_allowed_roles(
    message: str, role: str, live: Any, make_user: Callable[..., User]
) -> None:
    kind, text, answer = MESSAGES[message]
    _, cookie = await _session(make_user, role)
    comm = communicator(KINDS[kind], cookie)
    assert await _close_code(comm) == ACCEPTED
    await _first_refresh(comm)
    await comm.send_to(text_data=text)
    if answer:
        await wait_for(comm, lambda t: answer in t)
    else:
        if message == "pause":
            await wait_until(lambda: feeds.registry().feeds == {})
        await _probe(comm, kind)  # fails if the socket was closed meanwhile
    await comm.disconnect()


@pytest.mark.parametrize("downgrade", list(DOWNGRADES))
@pytest.mark.parametrize("message", list(MESSAGES))
async def test_each_message_rechecks_access(
    message: str, downgrade: str, live: Any, make_user: Callable[..., User]
) -> None:
    kind, text, answer = MESSAGES[message]
    user, cookie = await _session(make_user, "view")
    assert user is not None
    comm = communicator(KINDS[kind], cookie)
    assert await _close_code(comm) == ACCEPTED
    await _first_refresh(comm)
    revoke, code = DOWNGRADES[downgrade]
    await database_sync_to_async(revoke)(user)
    await comm.send_to(text_data=text)
    if message == "oversized":
        # Dropped unread (over MAX_MESSAGE): nothing is done and nothing sent for it. A
        # message after it is handled after it and closes the socket: one close (for that
        # one) once the consumer has handled everything, and no fragment.
        await comm.send_to(text_data=MESSAGES["malformed"][1])
        got = await _until_closed(comm)
        await comm.disconnect()  # handled after both messages: all their output is in now
        got += await collect(comm, 0)
        assert [m.get("code") for m in got if m["type"] == "websocket.close"] == [code], got
        assert not texts(got)
        assert feeds.registry().feeds == {}
        return
    got = await _until_closed(comm)
    closes = [m for m in got if m["type"] == "websocket.close"]
    assert closes and closes[0].get("code") == code, f"{message} after {downgrade}: {got}"
    assert not [t for t in texts(got) if answer and answer in t]
    assert feeds.registry().feeds == {}


# -- case 14: origin ----------------------------------------------------------------------

FOREIGN_ORIGINS = (
    "http://evil.example",
    "https://evil.example",
    "http://testserver.evil.example",
    "http://evil.example:80",
    "http://testserver@evil.example",
    "null",
    "",  # no Origin header at all
)


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_foreign_origin_is_refused_before_accept(
    kind: str, origin: str, live: Any, make_user: Callable[..., User]
) -> None:
    _, cookie = await _session(make_user, "superuser")
    comm = communicator(KINDS[kind], cookie, origin=origin)
    connected, _ = await comm.connect()
    assert not connected, f"origin {origin!r} was accepted"
    assert feeds.registry().feeds == {}


@pytest.mark.parametrize("kind", list(KINDS))
async def test_same_origin_superuser_is_accepted(
    kind: str, live: Any, make_user: Callable[..., User]
) -> None:
    """The control for the refusals above: the same socket from the right origin opens."""
    _, cookie = await _session(make_user, "superuser")
    comm = communicator(KINDS[kind], cookie, origin="http://testserver")
    assert (await comm.connect())[0]
    await comm.disconnect()


@pytest.mark.parametrize("cookie", ["", "forged-session-key", "x" * 300])
@pytest.mark.parametrize("kind", list(KINDS))
async def test_anonymous_is_refused_before_accept(kind: str, cookie: str, live: Any) -> None:
    comm = communicator(KINDS[kind], cookie or None)
    code = await _close_code(comm)
    assert code == 4401
    assert feeds.registry().feeds == {}
