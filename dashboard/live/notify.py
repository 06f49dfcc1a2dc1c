"""Notices between server processes, through the channel layer (``channels_redis`` when
several daphne processes serve the site, the in-memory layer for one).

Events of the queues need none of this: each process reads the streams itself (``feeds``).
What the streams do not carry goes here: an action done through one process shows as a
toast on every socket watching that queue, and a logout or a change of a user's permissions
makes that user's sockets (on any process) check their access at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

ALL_GROUP = "queue_dashboard.all"


def queue_group(connection: str, queue: str) -> str:
    """A valid group name (ASCII, < 100 chars) for any queue name."""
    digest = hashlib.sha1(f"{connection}\0{queue}".encode(), usedforsecurity=False)
    return "queue_dashboard.q." + digest.hexdigest()[:24]


def user_group(user_id: Any) -> str:
    return f"queue_dashboard.u.{int(user_id)}"


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is None:
            async_to_sync(layer.group_send)(group, message)
        else:
            task = loop.create_task(layer.group_send(group, message))
            task.add_done_callback(_log_failure)
    except Exception:  # a notice is best effort: the action itself is done
        log.exception("could not send %s to %s", message.get("type"), group)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("channel layer send failed", exc_info=task.exception())


def queue_notice(connection: str, queue: str, text: str, level: str = "success") -> None:
    """Show ``text`` on every socket watching the queue, on every process."""
    _send(queue_group(connection, queue), {"type": "queue.notice", "text": text,
                                           "level": level})


def access_changed(user_id: Any = None) -> None:
    """Make one user's sockets (or everyone's, for ``None``) check their access now."""
    group = ALL_GROUP if user_id is None else user_group(user_id)
    _send(group, {"type": "access.changed"})


def _on_logout(sender: Any, user: Any = None, **kwargs: Any) -> None:
    if user is not None and user.pk is not None:
        access_changed(user.pk)


def _on_user_saved(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    if instance.pk is not None:
        access_changed(instance.pk)


def _on_user_m2m(sender: Any, instance: Any, action: str, reverse: bool, **kwargs: Any) -> None:
    if not action.startswith("post_"):
        return
    if reverse:  # from the group's or permission's side: many users
        access_changed(None)
    elif getattr(instance, "pk", None) is not None:
        access_changed(instance.pk)


def _on_group_permissions(sender: Any, action: str, **kwargs: Any) -> None:
    if action.startswith("post_"):
        access_changed(None)


def connect_signals() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.auth.signals import user_logged_out
    from django.db.models.signals import m2m_changed, post_delete, post_save

    user_model = get_user_model()
    uid = "queue_dashboard_live"
    user_logged_out.connect(_on_logout, dispatch_uid=uid)
    post_save.connect(_on_user_saved, sender=user_model, dispatch_uid=uid)
    post_delete.connect(_on_user_saved, sender=user_model, dispatch_uid=uid)
    for field in ("groups", "user_permissions"):
        through = getattr(user_model, field, None)
        if through is not None:
            m2m_changed.connect(_on_user_m2m, sender=through.through,
                                dispatch_uid=f"{uid}.{field}")
    m2m_changed.connect(_on_group_permissions, sender=Group.permissions.through,
                        dispatch_uid=f"{uid}.group_permissions")
