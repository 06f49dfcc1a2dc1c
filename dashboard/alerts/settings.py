"""The alert settings: ``ALERTS_*`` keys of ``QUEUE_DASHBOARD``, read from its ``extra`` part
(the core settings parser keeps keys it does not know there), validated on use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from dashboard import conf


@dataclass(frozen=True, slots=True)
class AlertSettings:
    #: Seconds between two evaluations of every rule.
    interval: float = 30.0
    #: Run the evaluator inside the ASGI process (``with_dashboard``) as well as, or instead
    #: of, ``manage.py queue_dashboard_alerts``.
    in_asgi: bool = False
    #: Delivery attempts per channel before giving up, and the first retry's delay (doubled
    #: on each further attempt, at most ``backoff_max``).
    attempts: int = 5
    backoff: float = 5.0
    backoff_max: float = 600.0
    webhook_timeout: float = 10.0
    from_email: str = ""
    #: The dashboard's address in messages (links to the alerts page), e.g.
    #: ``https://ops.example.com/queues/``; blank: no link.
    base_url: str = ""
    #: How long an evaluator's leadership lasts without renewal (several processes: one leads).
    lease_seconds: float = 0.0
    #: Events (and their deliveries and attempts) older than this are deleted by the leader.
    history_days: int = 90

    @property
    def lease(self) -> float:
        return self.lease_seconds or max(3 * self.interval, 5.0)


def _number(raw: Mapping[str, Any], key: str, default: float, *, minimum: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ImproperlyConfigured(
            f"{conf.SETTING_NAME}[{key!r}] must be a number >= {minimum}")
    return float(value)


def parse(raw: Mapping[str, Any]) -> AlertSettings:
    attempts = raw.get("ALERTS_DELIVERY_ATTEMPTS", 5)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ImproperlyConfigured(
            f"{conf.SETTING_NAME}['ALERTS_DELIVERY_ATTEMPTS'] must be a positive integer")
    days = raw.get("ALERTS_HISTORY_DAYS", 90)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ImproperlyConfigured(
            f"{conf.SETTING_NAME}['ALERTS_HISTORY_DAYS'] must be a positive integer")
    return AlertSettings(
        interval=_number(raw, "ALERTS_INTERVAL_SECONDS", 30.0, minimum=0.05),
        in_asgi=bool(raw.get("ALERTS_IN_ASGI", False)),
        attempts=attempts,
        backoff=_number(raw, "ALERTS_BACKOFF_SECONDS", 5.0, minimum=0.0),
        backoff_max=_number(raw, "ALERTS_BACKOFF_MAX_SECONDS", 600.0, minimum=0.0),
        webhook_timeout=_number(raw, "ALERTS_WEBHOOK_TIMEOUT", 10.0, minimum=0.1),
        from_email=str(raw.get("ALERTS_FROM_EMAIL", "")),
        base_url=str(raw.get("ALERTS_BASE_URL", "")),
        lease_seconds=_number(raw, "ALERTS_LEASE_SECONDS", 0.0, minimum=0.0),
        history_days=days,
    )


def get() -> AlertSettings:
    return parse(conf.get_settings().extra)
