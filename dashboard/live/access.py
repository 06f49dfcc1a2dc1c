"""Who is behind a socket, asked again from the session store and the database each time.

``AuthMiddlewareStack`` resolves the user once, at the handshake; a socket lives for hours,
so every message, every ``LIVE_RECHECK_SECONDS`` and every notice from ``notify`` asks again:
the session must still exist and match the user's password hash, the user must still be
active staff with the view permission on the queue (``permissions.can``, fresh from the
database, no cached permissions). Synchronous: run it through ``database_sync_to_async``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest

from dashboard import conf, names, permissions
from dashboard.live.sessions import Key, Target
from dashboard.permissions import DashboardUser

#: Close codes (4000-4999 are the application's); the page tells them apart.
SESSION_ENDED = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404


@dataclass(frozen=True, slots=True)
class Verdict:
    code: int  # 0: allowed, else the close code
    user_id: Any = None
    keys: tuple[Key, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.code == 0


def session_user(session_key: str | None) -> DashboardUser | None:
    """The user of a session as the database says now, or ``None``."""
    if not session_key:
        return None
    engine = import_module(settings.SESSION_ENGINE)
    request = HttpRequest()  # get_user reads only the session (and checks its hash)
    request.session = engine.SessionStore(session_key)
    user = auth.get_user(request)  # the project's user model, or AnonymousUser
    return user if isinstance(user, auth.get_user_model()) else None


def _names_ok(target: Target) -> bool:
    try:
        if target.kind != "overview":
            names.check_queue_name(target.queue)
        if target.kind == "job":
            names.check_job_id(target.job_id)
    except ValueError:
        return False
    return True


def verdict(session_key: str | None, target: Target, candidates: list[Key]) -> Verdict:
    """May this session watch ``target``? ``candidates`` are the overview's queues."""
    user = session_user(session_key)
    if user is None:
        return Verdict(SESSION_ENDED)
    if not _names_ok(target):
        return Verdict(NOT_FOUND)
    if conf.get_settings().connection(target.connection or "") is None and target.connection:
        return Verdict(FORBIDDEN)
    if target.kind == "overview":
        if not permissions.can(user, "view"):
            return Verdict(FORBIDDEN)
        limit = conf.get_settings().live_overview_queues
        keys = tuple(k for k in candidates if permissions.can(user, "view", *k))[:limit]
        return Verdict(0, user.pk, keys)
    if not permissions.can(user, "view", target.connection, target.queue):
        return Verdict(FORBIDDEN)
    return Verdict(0, user.pk, ((target.connection, target.queue),))
