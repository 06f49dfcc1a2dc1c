"""What the alert pages show: the alerts a user may see, newest trouble first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TypeVar

from django.db.models import Case, Q, Value, When
from django.utils import timezone

from dashboard import conf, permissions
from dashboard.alerts.evaluator import silenced
from dashboard.alerts.models import AlertEvent, AlertRule, AlertState

_T = TypeVar("_T")
_PATTERN_CHARS = frozenset("*?[")
#: Status order on the pages: what needs a person first.
_ORDER = {"firing": 0, "unknown": 1, "pending": 2, "ok": 3}


@dataclass(frozen=True, slots=True)
class AlertRow:
    state: AlertState
    status: str  # firing, pending, ok, or unknown (cannot be evaluated)
    silenced: bool
    #: The state's queue is one queue (not the rule's pattern): its page can be linked.
    linkable: bool

    @property
    def rule(self) -> AlertRule:
        return self.state.rule

    @property
    def since(self) -> datetime | None:
        if self.status == "firing":
            return self.state.fired_at
        if self.status == "pending":
            return self.state.breach_since
        return None


def row(state: AlertState, now: datetime | None = None) -> AlertRow:
    now = now or timezone.now()
    status = "unknown" if state.error else state.status
    linkable = (not _PATTERN_CHARS & set(state.queue)
                and conf.get_settings().connection(state.connection) is not None)
    return AlertRow(state=state, status=status, silenced=silenced(state, now),
                    linkable=linkable)


def _first(limit: int, items: Iterable[_T]) -> list[_T]:
    return list(islice(items, limit))


def _visible(user: permissions.DashboardUser, state: AlertState) -> bool:
    return permissions.can(user, "view", state.connection, state.queue)


def active(user: permissions.DashboardUser, limit: int = 200) -> list[AlertRow]:
    """Firing, pending and unknown alerts of enabled rules that ``user`` may see."""
    # Ordered as the page shows them BEFORE the cut, so past ``limit`` it is pending ones
    # that drop off the page and the banner, never firing ones.
    rank = Case(When(~Q(error=""), then=Value(_ORDER["unknown"])),
                When(status="firing", then=Value(_ORDER["firing"])),
                When(status="pending", then=Value(_ORDER["pending"])),
                default=Value(_ORDER["ok"]))
    states = (AlertState.objects.select_related("rule")
              .filter(rule__enabled=True)
              .filter(Q(status__in=("firing", "pending")) | ~Q(error=""))
              .order_by(rank, "rule__name", "queue", "pk"))
    now = timezone.now()
    # Cut after the permission filter: alerts the user may not see never take the places
    # (and the banner's count) of those they may.
    rows = _first(limit, (row(s, now) for s in states.iterator(chunk_size=500)
                          if _visible(user, s)))
    rows.sort(key=lambda r: (_ORDER[r.status], r.rule.name, r.state.queue))
    return rows


def rule_visible(user: permissions.DashboardUser, rule: AlertRule) -> bool:
    return permissions.can(user, "view", rule.connection, rule.queue_pattern)


def rules(user: permissions.DashboardUser) -> list[AlertRule]:
    every = AlertRule.objects.select_related("owner").prefetch_related("webhooks")
    return [r for r in every if rule_visible(user, r)]


#: History rows read at most per row shown: a user who may see few queues gets the visible
#: ones among the newest ``limit`` x this, not a walk through the whole table.
HISTORY_READ_FACTOR = 20


def history(user: permissions.DashboardUser, limit: int = 50,
            state: AlertState | None = None) -> list[AlertEvent]:
    if limit <= 0:
        return []
    events = AlertEvent.objects.select_related("state__rule")
    if state is not None:
        events = events.filter(state=state)
    # Bounded slices (LIMIT/OFFSET), not a server-side cursor left open while filtering.
    step, cap = 2 * limit, HISTORY_READ_FACTOR * limit
    shown: list[AlertEvent] = []
    for offset in range(0, cap, step):
        page = list(events[offset:min(offset + step, cap)])
        shown += [e for e in page if _visible(user, e.state)]
        if len(shown) >= limit or len(page) < step:
            break
    return shown[:limit]


@dataclass(frozen=True, slots=True)
class BannerCounts:
    firing: int
    unknown: int
    unacknowledged: int


def banner(user: permissions.DashboardUser) -> BannerCounts:
    rows = active(user)
    firing = [r for r in rows if r.status == "firing"]
    return BannerCounts(
        firing=len(firing),
        unknown=sum(1 for r in rows if r.status == "unknown"),
        unacknowledged=sum(1 for r in firing
                           if not r.state.acknowledged_at and not r.silenced),
    )
