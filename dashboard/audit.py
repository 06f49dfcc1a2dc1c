"""Write one ``AuditLog`` row per action request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashboard.models import AuditLog

_MAX_IDS = 100


def record(
    user: Any,
    action: str,
    *,
    outcome: str,
    connection: str = "",
    queue: str = "",
    job_ids: Sequence[str] = (),
    count: int | None = None,
    detail: str = "",
) -> AuditLog:
    authenticated = bool(getattr(user, "is_authenticated", False))
    return AuditLog.objects.create(
        user=user if authenticated else None,
        username=user.get_username() if authenticated else "",
        action=action,
        connection=connection,
        queue=queue,
        job_ids=list(job_ids)[:_MAX_IDS],
        count=count,
        outcome=outcome,
        detail=detail[:2000],
    )
