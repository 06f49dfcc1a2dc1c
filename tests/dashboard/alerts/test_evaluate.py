"""Alert rules evaluated against a real redis-server: fire on a seeded backlog, deliver once
to a real local webhook (signature checked) and once by email, resolve when the backlog
clears, stay silent while silenced, retry a failing webhook, and say "unknown" when Redis is
away. Times are passed in (``now``) so the hysteresis is exact, not a race with the clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard.alerts.delivery import _claim, deliver_due
from dashboard.alerts.evaluator import evaluate_all, step
from dashboard.alerts.models import (
    AlertDelivery,
    AlertEvent,
    AlertRule,
    AlertState,
    DeliveryAttempt,
    Webhook,
)
from queuecore import Queue
from tests.dashboard.alerts.receiver import Receiver
from tests.dashboard.jobs import run_worker
from tests.redisproc import RedisProcess

pytestmark = pytest.mark.django_db
SECRET = "s3cret-for-tests"


@pytest.fixture
def alert_settings(settings: Any, redis_url: str) -> str:
    settings.QUEUE_DASHBOARD = {
        "CONNECTIONS": {"default": {"URL": redis_url}},
        "ALERTS_BACKOFF_SECONDS": 0,
        "ALERTS_DELIVERY_ATTEMPTS": 3,
        "ALERTS_WEBHOOK_TIMEOUT": 5,
    }
    return redis_url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


def make_rule(receiver: Receiver, **fields: Any) -> AlertRule:
    webhook = Webhook.objects.create(name="ops", url=receiver.url, secret=SECRET)
    values: dict[str, Any] = dict(
        name="<b>backlog</b> ✓ שלום", connection="default", queue_pattern="mail*",
        kind="depth", threshold=3, resolve_threshold=1, for_seconds=10,
        resolve_for_seconds=10, email_to="ops@example.com, oncall@example.com")
    values.update(fields)
    values.setdefault("owner", owner())
    rule = AlertRule.objects.create(**values)
    rule.webhooks.add(webhook)
    return rule


def owner() -> User:
    """A superuser: it may view every queue, so the rule covers all its pattern matches."""
    user, _ = User.objects.get_or_create(
        username="alert-owner", defaults={"is_staff": True, "is_superuser": True})
    return user


def seed(queue: Queue, n: int) -> None:
    for i in range(n):
        queue.add("send", {"i": i})


def at(start: datetime, seconds: float) -> datetime:
    return start + timedelta(seconds=seconds)


def test_fires_once_delivers_once_and_resolves(alert_settings: str, receiver: Receiver) -> None:
    rule = make_rule(receiver)
    queue = Queue("mail-out", connection=alert_settings)
    with Queue("other", connection=alert_settings) as other:
        other.add("x", {})  # not matched by "mail*"
    seed(queue, 5)
    t0 = timezone.now()
    evaluate_all(t0)
    state = AlertState.objects.get(rule=rule)
    assert (state.queue, state.status, state.value) == ("mail-out", "pending", 5.0)
    assert AlertState.objects.count() == 1
    evaluate_all(at(t0, 5))
    assert AlertState.objects.get().status == "pending"  # not yet held for 10 s
    evaluate_all(at(t0, 11))
    assert AlertState.objects.get().status == "firing"
    for later in (12, 13, 20):  # still firing: no second event, no second delivery
        evaluate_all(at(t0, later))
    assert deliver_due() == 2
    assert deliver_due() == 0
    assert AlertEvent.objects.filter(kind="fired").count() == 1
    [hook] = receiver.received
    assert hook.signed_by(SECRET)
    assert not hook.signed_by("another secret")
    body = hook.json()
    assert (body["event"], body["queue"], body["value"]) == ("fired", "mail-out", 5.0)
    assert body["rule"]["name"] == rule.name
    [email] = mail.outbox
    assert email.to == ["ops@example.com", "oncall@example.com"]
    assert "[FIRING]" in email.subject and "mail-out" in email.subject

    queue.drain()
    seed(queue, 2)  # below the threshold, above the resolve threshold: still firing
    evaluate_all(at(t0, 30))
    evaluate_all(at(t0, 60))
    assert AlertState.objects.get().status == "firing"
    queue.drain()
    evaluate_all(at(t0, 61))
    evaluate_all(at(t0, 65))
    assert AlertState.objects.get().status == "firing"  # clear for 4 s only
    evaluate_all(at(t0, 72))
    assert AlertState.objects.get().status == "ok"
    assert deliver_due() == 2
    assert [b["event"] for b in receiver.bodies()] == ["fired", "resolved"]
    assert "[RESOLVED]" in mail.outbox[1].subject
    assert AlertDelivery.objects.filter(status="sent").count() == 4
    queue.close()


def test_silenced_alert_fires_and_resolves_without_delivery(
    alert_settings: str, receiver: Receiver
) -> None:
    rule = make_rule(receiver, queue_pattern="mail-in", for_seconds=0, resolve_for_seconds=0)
    queue = Queue("mail-in", connection=alert_settings)
    evaluate_all()
    state = AlertState.objects.get(rule=rule)
    state.silenced_until = timezone.now() + timedelta(hours=1)
    state.save()
    seed(queue, 4)
    evaluate_all()
    assert AlertState.objects.get().status == "firing"
    queue.drain()
    evaluate_all()
    assert AlertState.objects.get().status == "ok"
    assert deliver_due() == 0
    assert receiver.received == [] and mail.outbox == []
    assert list(AlertEvent.objects.values_list("kind", flat=True)) == ["resolved", "fired"]
    queue.close()


def test_failing_webhook_is_retried_and_each_attempt_recorded(
    alert_settings: str, receiver: Receiver
) -> None:
    receiver.statuses = [500, 302]  # a redirect is not followed: a failure too
    make_rule(receiver, for_seconds=0, email_to="")
    queue = Queue("mail-x", connection=alert_settings)
    seed(queue, 9)
    evaluate_all()
    assert deliver_due() == 1
    assert deliver_due() == 1
    assert deliver_due() == 1
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    codes = list(DeliveryAttempt.objects.values_list("status_code", "ok"))
    assert codes == [(500, False), (302, False), (200, True)]
    assert len(receiver.received) == 3
    assert {r.headers["X-Queue-Dashboard-Delivery"] for r in receiver.received} == {
        str(delivery.pk)}
    queue.close()


def test_backoff_delays_the_retry_and_attempts_are_bounded(
    settings: Any, redis_url: str, receiver: Receiver
) -> None:
    settings.QUEUE_DASHBOARD = {
        "CONNECTIONS": {"default": {"URL": redis_url}},
        "ALERTS_BACKOFF_SECONDS": 60, "ALERTS_DELIVERY_ATTEMPTS": 2}
    receiver.statuses = [500, 500, 500]
    make_rule(receiver, for_seconds=0, email_to="")
    queue = Queue("mail-y", connection=redis_url)
    seed(queue, 9)
    evaluate_all()
    assert deliver_due() == 1
    assert deliver_due() == 0  # the retry waits 60 s
    delivery = AlertDelivery.objects.get()
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert deliver_due(timezone.now() + timedelta(seconds=61)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert "HTTP 500" in delivery.last_error
    assert deliver_due(timezone.now() + timedelta(days=1)) == 0
    queue.close()


def test_rule_with_redis_away_is_unknown_neither_firing_nor_resolving(
    settings: Any, receiver: Receiver
) -> None:
    server = RedisProcess().start()
    try:
        settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"default": {"URL": server.url}}}
        rule = make_rule(receiver, queue_pattern="mail", for_seconds=0, resolve_for_seconds=0)
        queue = Queue("mail", connection=server.url)
        seed(queue, 5)
        queue.close()
        evaluate_all()
        assert AlertState.objects.get(rule=rule).status == "firing"
        server.kill()
        evaluate_all()
    finally:
        server.close()
    state = AlertState.objects.get(rule=rule)
    assert state.status == "firing" and state.value == 5.0
    assert "RedisConnectionError" in state.error
    assert AlertEvent.objects.filter(kind="resolved").count() == 0
    assert AlertEvent.objects.filter(kind="fired").count() == 1


def test_pattern_rule_with_redis_away_before_any_state_is_unknown(
    settings: Any, receiver: Receiver
) -> None:
    server = RedisProcess().start()
    server.kill()
    try:
        settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"default": {"URL": server.url}}}
        rule = make_rule(receiver)
        evaluate_all()
    finally:
        server.close()
    state = AlertState.objects.get(rule=rule)
    assert (state.queue, state.status) == ("mail*", "ok")
    assert state.error


def test_a_stale_second_evaluator_cannot_record_the_same_transition(
    alert_settings: str, receiver: Receiver
) -> None:
    """What holds without row locks (SQLite): an evaluator that read the state before another
    fired it decides to fire the same generation, and its insert is refused whole."""
    make_rule(receiver, queue_pattern="mail", for_seconds=0)
    queue = Queue("mail", connection=alert_settings)
    seed(queue, 5)
    stale = AlertState.objects.create(rule=AlertRule.objects.get(), connection="default",
                                      queue="mail")
    evaluate_all()
    assert AlertState.objects.get().status == "firing"
    with pytest.raises(IntegrityError), transaction.atomic():
        step(stale, 5.0, timezone.now())
    assert AlertEvent.objects.count() == 1
    assert AlertDelivery.objects.count() == 2
    fresh = AlertState.objects.get()
    assert (fresh.status, fresh.generation) == ("firing", 1)
    queue.close()


def test_states_left_behind_by_an_edited_pattern_are_reset_or_resolved(
    alert_settings: str, receiver: Receiver
) -> None:
    rule = make_rule(receiver, for_seconds=0, resolve_for_seconds=0, email_to="")
    with Queue("mail-a", connection=alert_settings) as a, \
            Queue("mail-b", connection=alert_settings) as b:
        seed(a, 5)
        seed(b, 2)
        evaluate_all()
        statuses = dict(AlertState.objects.values_list("queue", "status"))
        assert statuses == {"mail-a": "firing", "mail-b": "ok"}
        AlertState.objects.filter(queue="mail-b").update(status="pending", error="stale")
        a.obliterate(force=True)
        rule.queue_pattern = "nothing-*"
        rule.save()
        evaluate_all()
    statuses = dict(AlertState.objects.values_list("queue", "status"))
    assert statuses == {"mail-a": "ok", "mail-b": "ok"}
    assert AlertState.objects.get(queue="mail-b").error == ""
    assert AlertEvent.objects.filter(kind="resolved").count() == 1


@pytest.mark.parametrize("kind", ["oldest_waiting", "failure_rate", "no_workers",
                                  "scheduler_missed"])
def test_each_kind_measures_its_condition(
    alert_settings: str, receiver: Receiver, kind: str
) -> None:
    rule = make_rule(receiver, queue_pattern="mail", kind=kind, threshold=0, for_seconds=0,
                     email_to="")
    queue = Queue("mail", connection=alert_settings)
    now = timezone.now()
    if kind == "oldest_waiting":
        queue.add("old", {}, timestamp=int((now.timestamp() - 90) * 1000))
        queue.add("new", {})
        rule.threshold = 60
    elif kind == "failure_rate":
        for name in ("ok-1", "fail-1", "fail-2", "ok-2"):
            queue.add(name, {}, attempts=1)
        run_worker(alert_settings, queue, finished=4)  # a real worker: 2 fail, 2 complete
        rule.threshold = 40
    elif kind == "no_workers":
        queue.add("job", {})
        queue.pause()
        evaluate_all(now)
        assert AlertState.objects.get().value == 0  # paused: nobody is meant to take it
        queue.resume()
    else:
        queue.upsert_job_scheduler("nightly", every=60_000)
        rule.threshold = 30
    rule.save()
    evaluate_all(now + timedelta(seconds=120) if kind == "scheduler_missed" else now)
    state = AlertState.objects.get()
    expected = {"oldest_waiting": (89, 95), "failure_rate": (50, 50), "no_workers": (1, 1),
                "scheduler_missed": (59, 121)}[kind]
    assert state.value is not None and expected[0] <= state.value <= expected[1], state.value
    assert state.status == "firing"
    queue.close()



def test_the_command_once_evaluates_and_sends(alert_settings: str, receiver: Receiver) -> None:
    from io import StringIO

    from django.core.management import call_command

    make_rule(receiver, queue_pattern="mail", for_seconds=0)
    with Queue("mail", connection=alert_settings) as queue:
        seed(queue, 4)
        out = StringIO()
        call_command("queue_dashboard_alerts", "--once", stdout=out)
    assert out.getvalue().strip() == "evaluated 1 rules, 2 delivery attempts"
    assert len(receiver.received) == 1 and len(mail.outbox) == 1


def test_the_command_names_a_bad_setting(settings: Any, redis_url: str) -> None:
    from django.core.management import CommandError, call_command

    settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"default": {"URL": redis_url}},
                                "ALERTS_INTERVAL_SECONDS": "often"}
    with pytest.raises(CommandError, match="ALERTS_INTERVAL_SECONDS"):
        call_command("queue_dashboard_alerts")


def test_the_leader_prunes_old_history(alert_settings: str, receiver: Receiver) -> None:
    from dashboard.alerts.runner import Evaluator

    make_rule(receiver, queue_pattern="mail", for_seconds=0, resolve_for_seconds=0)
    with Queue("mail", connection=alert_settings) as queue:
        seed(queue, 5)
        evaluate_all()
        queue.drain()
        evaluate_all()
    deliver_due()
    old, recent = AlertEvent.objects.order_by("id")
    AlertEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
    assert Evaluator().tick()
    assert list(AlertEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert AlertDelivery.objects.count() == 2  # the resolve's; the fire's went with it
    assert DeliveryAttempt.objects.count() == 2


def test_a_claim_holds_from_the_clock_not_from_the_batch_start(
    alert_settings: str, receiver: Receiver
) -> None:
    make_rule(receiver, for_seconds=0, email_to="")
    queue = Queue("mail-claim", connection=alert_settings)
    seed(queue, 9)
    evaluate_all()
    delivery = AlertDelivery.objects.get()
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(hours=1))
    # A batch that started 30 minutes ago (slow sends before this one) claims it for 60 s.
    assert _claim(delivery.pk, timezone.now() - timedelta(minutes=30), 60)
    delivery.refresh_from_db()
    assert delivery.claimed_until is not None and delivery.claimed_until > timezone.now()
    assert deliver_due() == 0  # still held: no second send
    assert receiver.received == []
    queue.close()


def test_an_evaluation_keeps_a_silence_and_ack_made_while_it_measured(
    alert_settings: str, receiver: Receiver
) -> None:
    make_rule(receiver, queue_pattern="mail", for_seconds=0)
    fired = timezone.now()
    state = AlertState.objects.create(rule=AlertRule.objects.get(), connection="default",
                                      queue="mail", status="firing", generation=1,
                                      fired_at=fired, value=5)
    stale = AlertState.objects.select_related("rule").get(pk=state.pk)
    until = fired + timedelta(hours=1)
    AlertState.objects.filter(pk=state.pk).update(
        silenced_until=until, acknowledged_at=fired, acknowledged_by="ops")
    step(stale, 6.0, fired + timedelta(seconds=30))  # still firing: no transition
    fresh = AlertState.objects.get()
    assert (fresh.status, fresh.value, fresh.evaluations) == ("firing", 6.0, 1)
    assert (fresh.silenced_until, fresh.acknowledged_by) == (until, "ops")
    assert fresh.acknowledged_at == fired
