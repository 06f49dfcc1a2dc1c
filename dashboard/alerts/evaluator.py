"""One evaluation of every enabled rule: measure, step each alert's state, record transitions.

Hysteresis: an alert fires once its condition (value above the threshold) has held for the
rule's ``for`` seconds, and resolves once the value has stayed at or below the resolve
threshold for ``resolve after`` seconds. A queue that cannot be read leaves the alert as it
was, marked unknown with the error: no fire, no resolve.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from dashboard import conf, connections
from dashboard.alerts import coverage
from dashboard.alerts.measure import measure
from dashboard.alerts.models import AlertDelivery, AlertEvent, AlertRule, AlertState
from dashboard.services.common import READ_ERRORS, describe
from dashboard.services.discovery import queue_names

log = logging.getLogger("dashboard.alerts")

_PATTERN_CHARS = frozenset("*?[")


def _targets(rule: AlertRule, conn: conf.ConnectionSettings) -> list[str]:
    if not _PATTERN_CHARS & set(rule.queue_pattern):
        return [rule.queue_pattern]  # one queue: watched even before it has any key
    return [n for n in queue_names(conn) if fnmatchcase(n, rule.queue_pattern)]


def _state(rule: AlertRule, connection: str, queue: str) -> AlertState:
    try:
        state, _ = AlertState.objects.get_or_create(rule=rule, connection=connection, queue=queue)
    except IntegrityError:  # another evaluator created it first
        state = AlertState.objects.get(rule=rule, connection=connection, queue=queue)
    return state


def silenced(state: AlertState, now: datetime) -> bool:
    return state.silenced_until is not None and state.silenced_until > now


def _transition(state: AlertState, kind: str, now: datetime) -> None:
    """Record a fired or resolved event (unique per state, generation and transition: a second
    evaluator's insert raises and its whole step rolls back) and queue its deliveries."""
    event = AlertEvent.objects.create(
        state=state, kind=kind, generation=state.generation, value=state.value, transition=kind)
    if silenced(state, now):
        return
    rule = state.rule
    channels: list[tuple[str, int | None]] = []
    if rule.recipients():
        channels.append(("email", None))
    channels += [(f"webhook:{w.pk}", w.pk) for w in rule.webhooks.filter(enabled=True)]
    AlertDelivery.objects.bulk_create(
        AlertDelivery(event=event, channel=c, webhook_id=w, next_attempt_at=timezone.now())
        for c, w in channels
    )


# What the evaluator writes: a silence or acknowledgement made by a user while it measured
# must not be overwritten by the evaluator's stale copy (a transition clears the ack itself).
_MEASURED = ("value", "error", "evaluated_at", "evaluations", "status", "breach_since",
             "clear_since")
_TRANSITION = (*_MEASURED, "generation", "fired_at", "acknowledged_at", "acknowledged_by")


def step(state: AlertState, value: float, now: datetime) -> None:
    """Advance one alert with a fresh measurement (inside the caller's transaction)."""
    rule = state.rule
    state.value = value
    state.error = ""
    state.evaluated_at = now
    state.evaluations += 1
    if state.status == AlertState.Status.FIRING:
        if value <= rule.clear_threshold:
            state.clear_since = state.clear_since or now
            if now - state.clear_since >= timedelta(seconds=rule.resolve_for_seconds):
                state.status = AlertState.Status.OK
                state.breach_since = state.clear_since = None
                state.acknowledged_at, state.acknowledged_by = None, ""
                state.save(update_fields=_TRANSITION)
                _transition(state, AlertEvent.Kind.RESOLVED, now)
                return
        else:
            state.clear_since = None
    elif value > rule.threshold:
        state.breach_since = state.breach_since or now
        if now - state.breach_since >= timedelta(seconds=rule.for_seconds):
            state.status = AlertState.Status.FIRING
            state.generation += 1
            state.fired_at = now
            state.clear_since = None
            state.acknowledged_at, state.acknowledged_by = None, ""
            state.save(update_fields=_TRANSITION)
            _transition(state, AlertEvent.Kind.FIRED, now)
            return
        state.status = AlertState.Status.PENDING
    else:
        state.status = AlertState.Status.OK
        state.breach_since = None
    state.save(update_fields=_MEASURED)


def _apply(state_id: int, now: datetime, value: float | None, error: str) -> None:
    try:
        with transaction.atomic():
            # The row lock serialises evaluators on databases that have one (PostgreSQL,
            # MySQL); the unique transition key covers the others (SQLite).
            state = AlertState.objects.select_for_update().select_related("rule").get(
                pk=state_id)
            if value is None:
                state.error = error or "unknown error"
                state.evaluated_at = now
                state.evaluations += 1
                state.save(update_fields=("error", "evaluated_at", "evaluations"))
            else:
                step(state, value, now)
    except IntegrityError:
        log.info("alert %s: another evaluator recorded this transition", state_id)
    except AlertState.DoesNotExist:
        pass  # its rule was deleted meanwhile


def _mark_rule_unknown(rule: AlertRule, error: str, now: datetime) -> None:
    # Only alerts the owner may view say so: the others were closed and stay closed.
    ids = [pk for pk, connection, queue in rule.states.values_list("pk", "connection", "queue")
           if coverage.owner_may_view(rule, connection, queue)]
    if not ids and coverage.owner_may_view(rule, rule.connection, rule.queue_pattern):
        ids = [_state(rule, rule.connection, rule.queue_pattern).pk]
    for pk in ids:
        _apply(pk, now, None, error)


#: The detail of the event that closes a firing alert its rule no longer covers.
CLOSED_DETAIL = "closed without notice: the rule's owner may not view this queue"
_CLOSED = ("status", "breach_since", "clear_since", "error", "acknowledged_at",
           "acknowledged_by")


def _close(state_id: int) -> None:
    """Reset an alert on a queue the rule's owner may not view, without measuring it or
    notifying anyone (a message would carry the queue's name and figures); a firing one gets
    a "resolved" event that says why, with no deliveries."""
    try:
        with transaction.atomic():
            state = AlertState.objects.select_for_update().get(pk=state_id)
            was_firing = state.status == AlertState.Status.FIRING
            state.status = AlertState.Status.OK
            state.breach_since = state.clear_since = None
            state.error = ""
            state.acknowledged_at, state.acknowledged_by = None, ""
            state.save(update_fields=_CLOSED)
            if was_firing:
                AlertEvent.objects.create(
                    state=state, kind=AlertEvent.Kind.RESOLVED, generation=state.generation,
                    transition=AlertEvent.Kind.RESOLVED, detail=CLOSED_DETAIL)
    except IntegrityError:
        log.info("alert %s: another evaluator closed it", state_id)
    except AlertState.DoesNotExist:
        pass


def _close_hidden(rule: AlertRule) -> None:
    live = rule.states.exclude(status=AlertState.Status.OK, error="")
    for pk, connection, queue in live.values_list("pk", "connection", "queue"):
        if not coverage.owner_may_view(rule, connection, queue):
            _close(pk)


def evaluate_rule(rule: AlertRule, now: datetime | None = None) -> None:
    now = now or timezone.now()
    _close_hidden(rule)
    if rule.owner_id is None:  # nothing to measure: no Redis read needed to know it
        coverage.record(rule, coverage.problem(rule, [], []))
        return
    conn = conf.get_settings().connection(rule.connection)
    if conn is None:
        _mark_rule_unknown(rule, f"unknown connection {rule.connection!r}", now)
        return
    try:
        matched = _targets(rule, conn)
    except READ_ERRORS as exc:
        _mark_rule_unknown(rule, describe(exc), now)
        return
    # A pattern expands to the queues its owner may view now, never to the others.
    names = coverage.visible(rule, conn.name, matched)
    coverage.record(rule, coverage.problem(rule, matched, names))
    # Queues the rule no longer covers (pattern edited, queue gone): a firing alert is still
    # measured, so it resolves (an obliterated queue measures 0); the others are reset.
    firing = set(rule.states.filter(connection=conn.name, status=AlertState.Status.FIRING)
                 .values_list("queue", flat=True))
    firing = {q for q in firing if coverage.owner_may_view(rule, conn.name, q)}
    names = list(dict.fromkeys([*names, *sorted(firing - set(names))]))
    rule.states.exclude(connection=conn.name, queue__in=names).exclude(
        status=AlertState.Status.FIRING).update(
            status=AlertState.Status.OK, breach_since=None, error="")
    now_ms = int(now.timestamp() * 1000)
    for name in names:
        state = _state(rule, conn.name, name)
        try:
            value: float | None = measure(rule, connections.get_queue(conn.name, name), now_ms)
            error = ""
        except READ_ERRORS as exc:
            value, error = None, describe(exc)
        _apply(state.pk, now, value, error)


def evaluate_all(now: datetime | None = None) -> int:
    """Evaluate every enabled rule once; returns how many were evaluated."""
    count = 0
    for rule in (AlertRule.objects.filter(enabled=True).select_related("owner")
                 .prefetch_related("webhooks")):
        try:
            evaluate_rule(rule, now)
        except DatabaseError:
            log.exception("alert rule %s: database error, evaluated again next round", rule.pk)
        count += 1
    return count
