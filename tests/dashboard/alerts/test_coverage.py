"""A rule covers only the queues its owner may view: two users with different per-queue view
permissions (``QUEUE_RULES``), a real redis-server with a public and a secret queue, a real
local webhook and Django's mail outbox. A pattern never expands to a queue hidden from the
rule's owner; an owner who loses access or is deleted leaves a rule that covers nothing and
says so; deliveries queued before the loss are withheld; the pages, history and banner of a
limited viewer show nothing of the hidden queue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.test import Client
from django.utils import timezone

from dashboard.alerts import listing
from dashboard.alerts.delivery import deliver_due
from dashboard.alerts.evaluator import CLOSED_DETAIL, evaluate_all
from dashboard.alerts.models import AlertDelivery, AlertEvent, AlertRule, AlertState, Webhook
from queuecore import Queue
from tests.dashboard.alerts.receiver import Receiver
from tests.dashboard.conftest import MOUNT

pytestmark = pytest.mark.django_db
ALERTS = MOUNT + "alerts/"
SECRET_QUEUE = "secret-payroll"
RULE_FORM = {
    "name": "everything", "connection": "default", "queue_pattern": "*", "kind": "depth",
    "state": "", "threshold": "3", "resolve_threshold": "", "window_seconds": "300",
    "for_seconds": "0", "resolve_for_seconds": "0", "enabled": "on",
    "email_to": "ops@example.com",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


@pytest.fixture
def two_queues(settings: Any, dash_redis: str) -> str:
    """A public queue and a secret one (only the ``payroll`` group may view it), each with a
    backlog of 5 (above every rule's threshold of 3)."""
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD,
                                "QUEUE_RULES": {"default:secret-*": {"view": ["payroll"]}}}
    with Queue("mail", connection=dash_redis) as mail_q, \
            Queue(SECRET_QUEUE, connection=dash_redis) as secret_q:
        for i in range(5):
            mail_q.add("send", {"i": i})
            secret_q.add("pay", {"salary": 99_999})
    return dash_redis


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def create_rule(user: User, receiver: Receiver) -> AlertRule:
    """The rule as its author creates it: through the form, so the author becomes its owner."""
    hook, _ = Webhook.objects.get_or_create(name="ops", defaults={"url": receiver.url})
    response = client_for(user).post(ALERTS + "rules/new/",
                                     {**RULE_FORM, "name": user.username, "webhooks": [hook.pk]})
    assert response.status_code == 303, response.content.decode()[:2000]
    rule = AlertRule.objects.get(name=user.username)
    assert rule.owner == user
    return rule


def sent_text(receiver: Receiver) -> str:
    return " ".join([r.body.decode() for r in receiver.received]
                    + [f"{m.subject} {m.body}" for m in mail.outbox])


def queues_of(rule: AlertRule) -> dict[str, str]:
    return dict(rule.states.values_list("queue", "status"))


def test_a_pattern_covers_only_the_queues_its_owner_may_view(
    two_queues: str, make_user: Callable[..., User], receiver: Receiver
) -> None:
    alice = make_user("view", "alerts")
    bob = make_user("view", "alerts", groups=("payroll",))
    alices, bobs = create_rule(alice, receiver), create_rule(bob, receiver)
    evaluate_all()
    assert queues_of(alices) == {"mail": "firing"}  # the secret queue is not even measured
    assert queues_of(bobs) == {"mail": "firing", SECRET_QUEUE: "firing"}
    assert (alices.coverage, bobs.coverage) == ("", "")
    assert deliver_due() == 6  # 3 alerts x (email + webhook)
    alice_sent = [r.json() for r in receiver.received if r.json()["rule"]["id"] == alices.pk]
    assert [b["queue"] for b in alice_sent] == ["mail"]
    alice_mail = [m for m in mail.outbox if alice.username in m.subject]
    assert len(alice_mail) == 1 and SECRET_QUEUE not in alice_mail[0].body

    # The pages of a viewer without the group show nothing of the secret queue: the active
    # list, the rules, the history, one alert's page and the banner's count.
    viewer = make_user("view")
    page = client_for(viewer).get(ALERTS).content.decode()
    assert "mail" in page and SECRET_QUEUE not in page
    banner = client_for(viewer).get(ALERTS + "banner/").content.decode()
    assert 'data-firing="2"' in banner  # the two alerts on "mail"
    hidden = AlertState.objects.get(queue=SECRET_QUEUE)
    assert client_for(viewer).get(f"{ALERTS}{hidden.pk}/").status_code == 404
    assert all(e.state.queue == "mail" for e in listing.history(viewer))
    assert 'data-firing="3"' in client_for(bob).get(ALERTS + "banner/").content.decode()


def test_an_owner_who_loses_access_or_is_deleted_leaves_a_rule_covering_nothing(
    two_queues: str, make_user: Callable[..., User], receiver: Receiver
) -> None:
    bob = make_user("view", "alerts", groups=("payroll",))
    rule = create_rule(bob, receiver)
    evaluate_all()
    assert queues_of(rule) == {"mail": "firing", SECRET_QUEUE: "firing"}
    # Bob leaves the payroll group before the deliveries went out: the secret queue's are
    # withheld for good, not sent and not retried.
    bob.groups.remove(Group.objects.get(name="payroll"))
    assert deliver_due() == 4
    assert deliver_due(timezone.now() + timedelta(days=1)) == 0
    withheld = AlertDelivery.objects.filter(event__state__queue=SECRET_QUEUE)
    assert {(d.status, d.attempts) for d in withheld} == {("failed", 1)}
    assert all("withheld" in d.last_error for d in withheld)
    assert [b["queue"] for b in receiver.bodies()] == ["mail"]
    assert SECRET_QUEUE not in sent_text(receiver) and len(mail.outbox) == 1

    # The next evaluation closes the secret queue's alert without a word: a "resolved" event
    # that says why, and no delivery.
    evaluate_all()
    assert queues_of(rule) == {"mail": "firing", SECRET_QUEUE: "ok"}
    closed = AlertEvent.objects.get(state__queue=SECRET_QUEUE, kind="resolved")
    assert closed.detail == CLOSED_DETAIL and not closed.deliveries.exists()
    assert deliver_due() == 0
    evaluate_all()
    assert AlertEvent.objects.filter(state__queue=SECRET_QUEUE).count() == 2  # fired, closed

    # Without the view permission at all, the rule covers nothing and says so.
    bob.user_permissions.clear()
    evaluate_all()
    rule.refresh_from_db()
    assert rule.coverage == AlertRule.Coverage.NO_ACCESS
    assert queues_of(rule) == {"mail": "ok", SECRET_QUEUE: "ok"}
    assert deliver_due() == 0 and len(receiver.received) == 1

    manager = client_for(make_user("view", "alerts", groups=("payroll",)))
    bob.delete()
    evaluate_all()
    rule.refresh_from_db()
    assert (rule.owner, rule.coverage) == (None, AlertRule.Coverage.NO_OWNER)
    page = manager.get(ALERTS).content.decode()
    assert "Covers no queue: its owner was deleted" in page and "no owner" in page
    # Saving the rule makes the editor its owner (the form says so): it covers the queues
    # again.
    assert "whoever saves it becomes its owner" in manager.get(
        f"{ALERTS}rules/{rule.pk}/").content.decode()
    assert manager.post(f"{ALERTS}rules/{rule.pk}/", {**RULE_FORM, "name": "taken over"}
                        ).status_code == 303
    evaluate_all()
    rule.refresh_from_db()
    assert rule.coverage == "" and rule.owner is not None
    assert queues_of(rule) == {"mail": "firing", SECRET_QUEUE: "firing"}


def test_a_single_queue_rule_of_an_owner_without_access_is_not_measured(
    two_queues: str, make_user: Callable[..., User], receiver: Receiver
) -> None:
    alice = make_user("view", "alerts")
    # Made outside the form (the form refuses it): the evaluator holds the line by itself.
    rule = AlertRule.objects.create(name="direct", connection="default", kind="depth",
                                    queue_pattern=SECRET_QUEUE, threshold=1, for_seconds=0,
                                    email_to="ops@example.com", owner=alice)
    evaluate_all()
    rule.refresh_from_db()
    assert rule.coverage == AlertRule.Coverage.NO_ACCESS
    assert not rule.states.exists() and deliver_due() == 0 and mail.outbox == []
    response = client_for(alice).post(ALERTS + "rules/new/",
                                      {**RULE_FORM, "queue_pattern": SECRET_QUEUE})
    assert response.status_code == 400
    assert "You may not manage alerts of these queues" in response.content.decode()


def test_hidden_alerts_never_take_the_places_of_visible_ones(
    two_queues: str, make_user: Callable[..., User]
) -> None:
    """The active list and the history are cut at a limit: after the permission filter, so a
    limited viewer's page and banner count are whole however many hidden alerts sort first."""
    owner = make_user(superuser=True)
    rule = AlertRule.objects.create(name="a", connection="default", queue_pattern="*",
                                    kind="depth", threshold=1, owner=owner)
    now = timezone.now()
    for i in range(6):
        state = AlertState.objects.create(rule=rule, connection="default",
                                          queue=f"secret-{i}", status="firing", generation=1,
                                          fired_at=now)
        AlertEvent.objects.create(state=state, kind="fired", generation=1)
    visible = AlertState.objects.create(rule=rule, connection="default", queue="z-public",
                                        status="firing", generation=1, fired_at=now)
    AlertEvent.objects.create(state=visible, kind="fired", generation=1)
    AlertEvent.objects.filter(state=visible).update(created_at=now - timedelta(hours=1))
    viewer = make_user("view")
    assert [r.state.queue for r in listing.active(viewer, limit=2)] == ["z-public"]
    assert [e.state.queue for e in listing.history(viewer, limit=2)] == ["z-public"]
    assert listing.banner(viewer).firing == 1


def test_the_migration_gives_existing_rules_their_last_editor_from_the_audit_log(
    make_user: Callable[..., User],
) -> None:
    from importlib import import_module

    from django.apps import apps

    from dashboard import audit

    migration = import_module("dashboard.migrations.0004_alert_rule_owner")
    first, second = make_user("view", "alerts"), make_user("view", "alerts")
    edited = AlertRule.objects.create(name="e", connection="default", queue_pattern="q",
                                      kind="depth", threshold=1)
    orphan = AlertRule.objects.create(name="o", connection="default", queue_pattern="q",
                                      kind="depth", threshold=1)
    audit.record(first, "alerts.rule.create", outcome="ok", detail=f"rule {edited.pk} 'e'")
    audit.record(second, "alerts.rule.edit", outcome="ok", detail=f"rule {edited.pk} 'e'")
    audit.record(first, "alerts.rule.edit", outcome="denied", detail=f"rule {edited.pk} 'e'")
    audit.record(first, "alerts.rule.edit", outcome="ok", detail=f"rule {edited.pk}1 'x'")
    migration.owners_from_audit(apps, None)
    edited.refresh_from_db()
    orphan.refresh_from_db()
    assert (edited.owner, orphan.owner) == (second, None)


def test_an_alert_page_hides_a_rule_pattern_that_now_names_a_hidden_queue(
    two_queues: str, make_user: Callable[..., User]
) -> None:
    owner = make_user(superuser=True)
    rule = AlertRule.objects.create(name="r", connection="default", queue_pattern="mail",
                                    kind="depth", threshold=1, owner=owner)
    state = AlertState.objects.create(rule=rule, connection="default", queue="mail")
    viewer = client_for(make_user("view"))
    assert "<code" in viewer.get(f"{ALERTS}{state.pk}/").content.decode()
    rule.queue_pattern = SECRET_QUEUE  # edited since by someone in the payroll group
    rule.save()
    page = viewer.get(f"{ALERTS}{state.pk}/")
    assert page.status_code == 200 and SECRET_QUEUE not in page.content.decode()


WEBHOOK_FORM = {"name": "ops", "format": "generic", "secret": "", "enabled": "on"}


def test_a_shared_webhook_is_changed_only_by_the_owner_of_every_rule_using_it(
    two_queues: str, make_user: Callable[..., User], receiver: Receiver
) -> None:
    """A manager who may not view secret-* cannot point the admin's webhook at their own
    server (and so receive the admin's secret-* alerts), nor delete it; a superuser can, and
    so can the owner of every rule that uses a webhook."""
    from dashboard.models import AuditLog

    admin = make_user(superuser=True)
    manager = make_user("view", "alerts")
    create_rule(admin, receiver)  # "*", covering the secret queue, through webhook "ops"
    hook = Webhook.objects.get(name="ops")
    theirs = Receiver().start()
    try:
        b = client_for(manager)
        edit, delete = f"{ALERTS}webhooks/{hook.pk}/", f"{ALERTS}webhooks/{hook.pk}/delete/"
        page = b.get(edit)
        assert page.status_code == 403
        assert "used by alert rules of other people" in page.content.decode()
        assert b.post(edit, {**WEBHOOK_FORM, "url": theirs.url}).status_code == 403
        assert b.get(delete).status_code == 403 and b.post(delete).status_code == 403
        hook.refresh_from_db()
        assert hook.url == receiver.url
        assert AuditLog.objects.filter(user=manager, outcome="denied",
                                       action__startswith="alerts.webhook.").count() == 2
        evaluate_all()
        deliver_due()
        assert theirs.received == [] and SECRET_QUEUE in sent_text(receiver)

        # The manager's own webhook, used by their own rule alone, is theirs to change.
        assert b.post(f"{ALERTS}webhooks/new/", {**WEBHOOK_FORM, "name": "mine",
                                                  "url": theirs.url}).status_code == 303
        mine = Webhook.objects.get(name="mine")
        assert mine.changed_by == manager
        response = b.post(ALERTS + "rules/new/", {**RULE_FORM, "name": "m",
                                                  "webhooks": [mine.pk]})
        assert response.status_code == 303
        assert b.post(f"{ALERTS}webhooks/{mine.pk}/",
                      {**WEBHOOK_FORM, "name": "mine", "url": receiver.url}).status_code == 303
        # The superuser may change the shared one.
        assert client_for(admin).post(edit, {**WEBHOOK_FORM, "url": theirs.url}
                                      ).status_code == 303
        hook.refresh_from_db()
        assert (hook.url, hook.changed_by) == (theirs.url, admin)
    finally:
        theirs.stop()


def test_a_webhook_carries_no_alert_of_a_queue_its_last_editor_may_not_view(
    two_queues: str, make_user: Callable[..., User], receiver: Receiver
) -> None:
    """The admin adds the manager's webhook to their "*" rule: its deliveries of the secret
    queue's alerts are withheld (the manager chose where it sends), those of the public queue
    go out, and the rule's email carries both."""
    admin = make_user(superuser=True)
    manager = make_user("view", "alerts")
    assert client_for(manager).post(f"{ALERTS}webhooks/new/", {
        **WEBHOOK_FORM, "name": "managers", "url": receiver.url}).status_code == 303
    hook = Webhook.objects.get(name="managers")
    response = client_for(admin).post(ALERTS + "rules/new/", {**RULE_FORM, "name": "admin",
                                                              "webhooks": [hook.pk]})
    assert response.status_code == 303
    evaluate_all()
    assert deliver_due() == 4  # 2 alerts x (email + webhook)
    assert [b["queue"] for b in receiver.bodies()] == ["mail"]
    withheld = AlertDelivery.objects.get(event__state__queue=SECRET_QUEUE,
                                         channel__startswith="webhook")
    assert withheld.status == "failed" and "last changed by" in withheld.last_error
    assert len(mail.outbox) == 2 and SECRET_QUEUE in sent_text(receiver)


def test_the_migration_reads_the_audit_log_once_for_every_rule(
    make_user: Callable[..., User],
) -> None:
    from importlib import import_module

    from django.apps import apps
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dashboard import audit

    migration = import_module("dashboard.migrations.0004_alert_rule_owner")
    users = [make_user("view", "alerts") for _ in range(3)]
    rules = [AlertRule.objects.create(name=f"r{i}", connection="default", queue_pattern="q",
                                      kind="depth", threshold=1) for i in range(5)]
    for i, rule in enumerate(rules[:4]):
        audit.record(users[i % 3], "alerts.rule.create", outcome="ok",
                     detail=f"rule {rule.pk} 'r{i}': depth")
    audit.record(users[2], "alerts.rule.edit", outcome="ok", detail=f"rule {rules[0].pk} 'x'")
    audit.record(users[0], "alerts.rule.edit", outcome="ok", detail="rule ² 'hostile'")
    with CaptureQueriesContext(connection) as queries:
        migration.owners_from_audit(apps, None)
    assert sum("auditlog" in q["sql"].lower() for q in queries.captured_queries) == 1
    owners = [AlertRule.objects.get(pk=r.pk).owner for r in rules]
    assert owners == [users[2], users[1], users[2], users[0], None]


def test_the_history_reads_a_bounded_number_of_rows_for_a_limited_viewer(
    two_queues: str, make_user: Callable[..., User]
) -> None:
    """Past ``HISTORY_READ_FACTOR`` x limit rows of hidden events the history stops reading
    (in bounded slices, no server-side cursor) rather than walking the whole table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    owner = make_user(superuser=True)
    rule = AlertRule.objects.create(name="a", connection="default", queue_pattern="*",
                                    kind="depth", threshold=1, owner=owner)
    hidden = AlertState.objects.create(rule=rule, connection="default", queue="secret-x")
    visible = AlertState.objects.create(rule=rule, connection="default", queue="mail")
    AlertEvent.objects.create(state=visible, kind="fired", generation=1)
    AlertEvent.objects.filter(state=visible).update(created_at=timezone.now()
                                                    - timedelta(hours=1))
    AlertEvent.objects.bulk_create([AlertEvent(state=hidden, kind="acknowledged", generation=1)
                                    for _ in range(listing.HISTORY_READ_FACTOR * 2)])
    viewer = make_user("view")
    with CaptureQueriesContext(connection) as queries:
        assert listing.history(viewer, limit=2) == []  # the visible one is past the rows read
    events = [q for q in queries.captured_queries if "alertevent" in q["sql"].lower()]
    assert len(events) == listing.HISTORY_READ_FACTOR // 2
    assert all("LIMIT" in q["sql"] for q in events)
    assert [e.state.queue for e in listing.history(viewer, limit=3)] == ["mail"]
    assert [e.state.queue for e in listing.history(owner, limit=3)] == ["secret-x"] * 3
