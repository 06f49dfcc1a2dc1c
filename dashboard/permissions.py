"""Who may see and do what: staff only, Django permissions per action, groups per queue.

A user needs ``is_staff`` and the app permission of the action (superusers have them all).
``QUEUE_DASHBOARD['QUEUE_RULES']`` narrows single queues further: a rule whose pattern
(fnmatch on ``"connection:queue"``) matches and that names groups for the action (or for
``"manage"``, which covers every action but ``"view"`` and implies it) admits only members of
those groups. ``READ_ONLY`` refuses every action to everyone.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any, Protocol

from dashboard import conf

APP_LABEL = "queue_dashboard"

#: action name -> permission codename on the ``QueueDashboard`` model.
ACTION_PERMISSIONS: dict[str, str] = {
    "view": "view_queues",
    "retry": "retry_jobs",
    "remove": "remove_jobs",
    "promote": "promote_jobs",
    "clean": "clean_queues",
    "pause": "pause_queues",
    "drain": "drain_queues",
    "obliterate": "obliterate_queues",
    "schedulers": "manage_schedulers",
    "export": "export_jobs",
    "edit": "edit_jobs",
    "alerts": "manage_alerts",
}

PERMISSION_NAMES: tuple[tuple[str, str], ...] = (
    ("view_queues", "Can view queues, jobs, workers and Redis"),
    ("retry_jobs", "Can retry jobs"),
    ("remove_jobs", "Can remove jobs"),
    ("promote_jobs", "Can promote delayed jobs"),
    ("clean_queues", "Can clean old jobs of a queue"),
    ("pause_queues", "Can pause and resume queues"),
    ("drain_queues", "Can drain queues"),
    ("obliterate_queues", "Can obliterate queues"),
    ("manage_schedulers", "Can remove job schedulers"),
    ("export_jobs", "Can export jobs"),
    ("edit_jobs", "Can add, import, duplicate and edit jobs"),
    ("manage_alerts", "Can edit alert rules and acknowledge or silence alerts"),
)


class _Groups(Protocol):
    def values_list(self, *fields: str, flat: bool = ...) -> Iterable[Any]: ...


class DashboardUser(Protocol):
    """What the checks read of a user: Django's ``User`` and ``AnonymousUser`` fit, and so does
    any user model with ``PermissionsMixin`` and ``is_staff``."""

    @property
    def is_authenticated(self) -> bool: ...

    @property
    def is_active(self) -> bool: ...

    @property
    def is_staff(self) -> bool: ...

    @property
    def is_superuser(self) -> bool: ...

    @property
    def groups(self) -> _Groups: ...

    @property
    def pk(self) -> Any: ...  # a user model's primary key: int, UUID, str... (None: anonymous)

    def has_perms(self, perm_list: Iterable[str]) -> bool: ...


def _group_names(user: DashboardUser) -> frozenset[str]:
    # Kept on the user object: one query per request however many queues a page checks.
    cached: frozenset[str] | None = getattr(user, "_queue_dashboard_groups", None)
    if cached is None:
        cached = frozenset(str(name) for name in user.groups.values_list("name", flat=True))
        setattr(user, "_queue_dashboard_groups", cached)  # noqa: B010 (not an attribute of the type)
    return cached


def _rule_allows(user: DashboardUser, action: str, connection: str, queue: str) -> bool:
    target = f"{connection}:{queue}"
    for rule in conf.get_settings().queue_rules:
        if not fnmatchcase(target, rule.pattern):
            continue
        allowed = set(rule.groups.get(action, ()))
        if action == "view":
            if not allowed and "manage" not in rule.groups:
                continue
            allowed |= set(rule.groups.get("manage", ()))
        elif not allowed:
            if "manage" not in rule.groups:
                continue
            allowed = set(rule.groups["manage"])
        if user.is_superuser:
            continue
        if not allowed & _group_names(user):
            return False
    return True


def can(
    user: DashboardUser, action: str, connection: str | None = None, queue: str | None = None
) -> bool:
    """True when ``user`` may do ``action`` (on ``queue`` of ``connection`` when given)."""
    if action not in ACTION_PERMISSIONS:
        raise ValueError(f"unknown dashboard action {action!r}")
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    if action != "view" and conf.get_settings().read_only:
        return False
    needed = {
        f"{APP_LABEL}.{ACTION_PERMISSIONS['view']}",
        f"{APP_LABEL}.{ACTION_PERMISSIONS[action]}",
    }
    if not user.has_perms(needed):
        return False
    if connection is not None and queue is not None:
        if action != "view" and not _rule_allows(user, "view", connection, queue):
            return False
        return _rule_allows(user, action, connection, queue)
    return True


def allowed_actions(user: DashboardUser, connection: str, queue: str) -> frozenset[str]:
    """Every action ``user`` may do on one queue, for templates to show the right buttons."""
    return frozenset(a for a in ACTION_PERMISSIONS if can(user, a, connection, queue))
