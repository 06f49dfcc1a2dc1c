"""The evaluator loop: ``manage.py queue_dashboard_alerts`` or threads in the ASGI process.

Several processes may run it: a lease row (taken and renewed by one conditional UPDATE, so it
works on every database Django supports) lets one of them evaluate; when its holder stops
renewing, another takes over after ``ALERTS_LEASE_SECONDS``. Deliveries run on a thread of
their own, so a slow webhook never holds evaluation up, and any process may send them (each
is claimed first).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError, IntegrityError, close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from dashboard.alerts import settings as alert_settings
from dashboard.alerts.delivery import deliver_due
from dashboard.alerts.evaluator import evaluate_all
from dashboard.alerts.models import AlertEvent, EvaluatorLease

log = logging.getLogger("dashboard.alerts")
LEASE_NAME = "alerts"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def take_lease(holder: str, seconds: float, now: datetime | None = None) -> bool:
    """Take or renew the evaluator lease; True when ``holder`` leads until now + seconds."""
    now = now or timezone.now()
    with contextlib.suppress(IntegrityError):  # created by another process meanwhile
        EvaluatorLease.objects.get_or_create(
            name=LEASE_NAME, defaults={"holder": "", "expires_at": _EPOCH})
    taken = EvaluatorLease.objects.filter(
        Q(holder=holder) | Q(expires_at__lt=now), name=LEASE_NAME,
    ).update(holder=holder, expires_at=now + timedelta(seconds=seconds))
    return taken == 1


def release_lease(holder: str) -> None:
    EvaluatorLease.objects.filter(name=LEASE_NAME, holder=holder).update(expires_at=_EPOCH)


PRUNE_EVERY = timedelta(hours=1)


def prune(days: int, now: datetime | None = None) -> int:
    """Delete events older than ``days`` (their deliveries and attempts go with them)."""
    now = now or timezone.now()
    deleted, _ = AlertEvent.objects.filter(created_at__lt=now - timedelta(days=days)).delete()
    return deleted


class Evaluator:
    """Evaluates rules every ``interval`` while it holds the lease; sends due deliveries."""

    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder or holder_name()
        self.stop = threading.Event()
        self.leading = False
        self.pruned_at: datetime | None = None

    def tick(self) -> bool:
        """One round: renew or take the lease, evaluate if leading. True when it evaluated."""
        settings = alert_settings.get()
        self.leading = take_lease(self.holder, settings.lease)
        if self.leading:
            evaluate_all()
            now = timezone.now()
            if self.pruned_at is None or now - self.pruned_at >= PRUNE_EVERY:
                prune(settings.history_days, now)
                self.pruned_at = now
        return self.leading

    def _loop(self, work: str) -> None:
        try:
            while not self.stop.is_set():
                settings = alert_settings.get()
                close_old_connections()
                try:
                    if work == "evaluate":
                        self.tick()
                    else:
                        deliver_due()
                except DatabaseError:
                    log.exception("alerts %s: database error, trying again", work)
                except Exception:  # keep the loop alive: the next round may succeed
                    log.exception("alerts %s failed", work)
                pause = settings.interval if work == "evaluate" else min(settings.interval, 1.0)
                self.stop.wait(pause)
        finally:
            if work == "evaluate":
                with contextlib.suppress(DatabaseError):
                    release_lease(self.holder)
            connection.close()

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._loop, args=(work,), daemon=True,
                             name=f"queue-dashboard-alerts-{work}")
            for work in ("evaluate", "deliver")
        ]
        for thread in threads:
            thread.start()
        return threads

    def run(self) -> None:
        """Run both loops until ``stop`` is set (by a signal handler)."""
        threads = self.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)


_in_asgi: Evaluator | None = None
_in_asgi_lock = threading.Lock()


def start_in_asgi() -> Evaluator | None:
    """Start the evaluator threads in this ASGI process when ``ALERTS_IN_ASGI`` is set
    (once per process); called by ``dashboard.asgi.with_dashboard``."""
    global _in_asgi
    if not alert_settings.get().in_asgi:
        return None
    with _in_asgi_lock:
        if _in_asgi is None:
            _in_asgi = Evaluator()
            _in_asgi.start()
    return _in_asgi
