"""The alert pages: viewers read, managers (the ``alerts`` permission) create, edit, delete,
acknowledge and silence; forms refuse bad input field by field; everything is audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from dashboard.alerts.models import AlertEvent, AlertRule, AlertState, Webhook
from dashboard.models import AuditLog
from tests.dashboard.conftest import MOUNT

pytestmark = pytest.mark.django_db
ALERTS = MOUNT + "alerts/"
HOSTILE = "<script>alert(1)</script> ✓ שלום " + "x" * 150

RULE_FORM = {
    "name": HOSTILE, "connection": "default", "queue_pattern": "emails", "kind": "depth",
    "state": "", "threshold": "10", "resolve_threshold": "5", "window_seconds": "300",
    "for_seconds": "60", "resolve_for_seconds": "60", "enabled": "on",
    "email_to": "ops@example.com\noncall@example.com",
}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager(dash_redis: str, make_user: Callable[..., User]) -> Client:
    return client_for(make_user("view", "alerts"))


@pytest.fixture
def viewer(dash_redis: str, make_user: Callable[..., User]) -> Client:
    return client_for(make_user("view"))


def firing(rule: AlertRule, queue: str = "emails") -> AlertState:
    return AlertState.objects.create(rule=rule, connection="default", queue=queue,
                                     status="firing", value=42, generation=1,
                                     fired_at=timezone.now())


def a_rule(**fields: Any) -> AlertRule:
    values: dict[str, Any] = dict(name=HOSTILE, connection="default", queue_pattern="emails",
                                  kind="depth", threshold=10)
    values.update(fields)
    return AlertRule.objects.create(**values)


def test_manager_creates_edits_and_deletes_a_rule_audited(manager: Client) -> None:
    hook = Webhook.objects.create(name="ops", url="https://hooks.example.com/x")
    page = manager.get(ALERTS + "rules/new/")
    assert page.status_code == 200 and b'name="queue_pattern"' in page.content
    response = manager.post(ALERTS + "rules/new/", {**RULE_FORM, "webhooks": [hook.pk]})
    assert response.status_code == 303, response.content.decode()[:2000]
    rule = AlertRule.objects.get()
    assert (rule.name, rule.threshold, rule.resolve_threshold) == (HOSTILE, 10, 5)
    assert rule.email_to == "ops@example.com, oncall@example.com"
    assert list(rule.webhooks.all()) == [hook]
    listing = manager.get(ALERTS).content.decode()
    assert "<script>alert(1)</script>" not in listing and "&lt;script&gt;" in listing
    assert f"rules/{rule.pk}/" in listing
    assert manager.post(f"{ALERTS}rules/{rule.pk}/",
                        {**RULE_FORM, "threshold": "20"}).status_code == 303
    rule.refresh_from_db()
    assert rule.threshold == 20
    assert manager.post(f"{ALERTS}rules/{rule.pk}/delete/").status_code == 303
    assert not AlertRule.objects.exists()
    actions = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["alerts.rule.create", "alerts.rule.edit", "alerts.rule.delete"]


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"email_to": "ops@example.com, not-an-address"}, "email_to", "Not an email address"),
    ({"resolve_threshold": "50"}, "resolve_threshold", "between 0 and the threshold"),
    ({"kind": "failure_rate", "threshold": "150"}, "threshold", "percentage below 100"),
    ({"queue_pattern": "a:b"}, "queue_pattern", "may not contain"),
    ({"threshold": "-1"}, "threshold", "&gt;= 0"),
    ({"threshold": "lots"}, "threshold", "Enter a number"),
    ({"window_seconds": "5"}, "window_seconds", "between 60 seconds and 7 days"),
    ({"kind": "oldest_waiting", "state": "failed"}, "state", "Only depth rules"),
    ({"connection": "nope"}, "connection", "Select a valid choice"),
])
def test_bad_rule_input_is_refused_inline(
    manager: Client, change: dict[str, str], field: str, message: str
) -> None:
    response = manager.post(ALERTS + "rules/new/", {**RULE_FORM, **change})
    assert response.status_code == 400
    html = response.content.decode()
    block = re.search(rf'id="field-{field}".*?</div>', html, re.S)
    assert block and message in block.group(0), html[-3000:]
    assert not AlertRule.objects.exists()


def test_viewer_reads_but_may_not_change(viewer: Client) -> None:
    rule = a_rule()
    state = firing(rule)
    page = viewer.get(ALERTS).content.decode()
    assert "rules/new/" not in page and f"rules/{rule.pk}/" not in page
    assert "Acknowledge" not in page and "&lt;script&gt;" in page
    assert viewer.get(ALERTS + "rules/new/").status_code == 403
    assert viewer.post(ALERTS + "rules/new/", RULE_FORM).status_code == 403
    assert viewer.post(f"{ALERTS}rules/{rule.pk}/delete/").status_code == 403
    assert viewer.post(f"{ALERTS}{state.pk}/acknowledge/").status_code == 403
    assert viewer.post(f"{ALERTS}{state.pk}/silence/", {"seconds": "3600"}).status_code == 403
    assert viewer.get(f"{ALERTS}{state.pk}/").status_code == 200
    assert AlertRule.objects.exists() and not AlertEvent.objects.exists()


def test_forms_need_the_csrf_token(dash_redis: str, csrf_client: Client) -> None:
    assert csrf_client.post(ALERTS + "rules/new/", RULE_FORM).status_code == 403
    state = firing(a_rule())
    assert csrf_client.post(f"{ALERTS}{state.pk}/acknowledge/").status_code == 403


def test_acknowledge_and_silence_are_recorded(manager: Client) -> None:
    state = firing(a_rule())
    page = manager.get(ALERTS).content.decode()
    assert "Acknowledge" in page and 'name="minutes"' in page
    assert manager.post(f"{ALERTS}{state.pk}/acknowledge/").status_code == 303
    assert manager.post(f"{ALERTS}{state.pk}/silence/", {"seconds": "14400"}).status_code == 303
    state.refresh_from_db()
    assert state.acknowledged_by.startswith("user")
    assert state.silenced_until is not None
    assert timedelta(hours=3.9) < state.silenced_until - timezone.now() < timedelta(hours=4.1)
    manager.post(f"{ALERTS}{state.pk}/silence/", {"minutes": "90"})
    state.refresh_from_db()
    assert state.silenced_until is not None
    assert state.silenced_until - timezone.now() < timedelta(minutes=91)
    for bad in ({"minutes": "0"}, {"minutes": "99999999"}, {"minutes": "x"}, {"seconds": "7"},
                {"minutes": "²"}, {"minutes": "١٢"}):
        response = manager.post(f"{ALERTS}{state.pk}/silence/", bad, follow=True)
        assert "Silence for 1 to 43200 minutes" in response.content.decode()
    manager.post(f"{ALERTS}{state.pk}/silence/", {"lift": "1"})
    state.refresh_from_db()
    assert state.silenced_until is None
    kinds = list(AlertEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["acknowledged", "silenced", "silenced", "unsilenced"]
    assert AuditLog.objects.filter(action__startswith="alerts.").count() == 4
    detail = manager.get(f"{ALERTS}{state.pk}/").content.decode()
    assert "acknowledged" in detail and "silence lifted" in detail


def test_banner_counts_what_the_user_may_see(
    settings: Any, dash_redis: str, make_user: Callable[..., User]
) -> None:
    rule = a_rule()
    firing(rule)
    firing(a_rule(queue_pattern="secret-q"), queue="secret-q")
    AlertState.objects.create(rule=rule, connection="default", queue="other", error="down")
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD,
                                "QUEUE_RULES": {"default:secret-*": {"view": ["secret"]}}}
    limited = client_for(make_user("view"))
    banner = limited.get(ALERTS + "banner/").content.decode()
    assert 'data-firing="1"' in banner and "1 alert firing" in banner and "1 unknown" in banner
    full = client_for(make_user("view", groups=("secret",)))
    assert 'data-firing="2"' in full.get(ALERTS + "banner/").content.decode()
    assert "secret-q" not in limited.get(ALERTS).content.decode()
    gone = AlertState.objects.create(rule=rule, connection="gone", queue="q1", error="unknown")
    page = full.get(ALERTS).content.decode()
    assert f'{ALERTS}{gone.pk}/' in page and "/gone/q/q1/" not in page
    gone.delete()
    page = limited.get(MOUNT).content.decode()
    assert 'hx-get="/ops/tools/queues/alerts/banner/"' in page
    assert "qd-alerts-banner-on" in banner and "(1 new)" in banner
    AlertState.objects.filter(error="down").delete()
    AlertState.objects.filter(queue="emails").update(acknowledged_at=timezone.now())
    handled = limited.get(ALERTS + "banner/").content.decode()
    assert "qd-alerts-banner-handled" in handled and "(handled)" in handled


def test_webhook_secret_is_write_only(manager: Client) -> None:
    form = {"name": "ops", "url": "https://hooks.example.com/a", "format": "slack",
            "secret": "hush-hush", "enabled": "on"}
    assert manager.post(ALERTS + "webhooks/new/", form).status_code == 303
    hook = Webhook.objects.get()
    edit = manager.get(f"{ALERTS}webhooks/{hook.pk}/").content.decode()
    assert "hush-hush" not in edit
    manager.post(f"{ALERTS}webhooks/{hook.pk}/", {**form, "secret": "", "name": "ops2"})
    hook.refresh_from_db()
    assert (hook.name, hook.secret) == ("ops2", "hush-hush")
    manager.post(f"{ALERTS}webhooks/{hook.pk}/", {**form, "secret": "", "clear_secret": "on"})
    hook.refresh_from_db()
    assert hook.secret == ""
    bad = manager.post(ALERTS + "webhooks/new/", {**form, "name": "x", "url": "file:///etc"})
    assert bad.status_code == 400 and not Webhook.objects.filter(name="x").exists()


def test_the_admin_mount_serves_the_alert_pages_with_its_own_links(
    dash_redis: str, admin_user_client: Client
) -> None:
    admin = "/ops/admin/queue_dashboard/queuedashboard/"
    state = firing(a_rule())
    page = admin_user_client.get(admin + "alerts/").content.decode()
    assert f'href="{admin}alerts/rules/new/"' in page
    assert f'action="{admin}alerts/{state.pk}/acknowledge/"' in page
    assert f'hx-get="{admin}alerts/banner/"' in page
    banner = admin_user_client.get(admin + "alerts/banner/").content.decode()
    assert f'href="{admin}alerts/"' in banner and "1 alert firing" in banner
    response = admin_user_client.post(f"{admin}alerts/{state.pk}/acknowledge/")
    assert response["Location"] == f"{admin}alerts/"


def test_rule_and_webhook_forms_check_csrf_without_the_middleware(
    settings: Any, dash_redis: str, csrf_client: Client
) -> None:
    # The app may be mounted in a project without CsrfViewMiddleware: the views protect
    # themselves, as acknowledge and silence do.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "CsrfViewMiddleware" not in m]
    rule = a_rule()
    hook = Webhook.objects.create(name="ops", url="https://hooks.example.com/x")
    for path in ("rules/new/", f"rules/{rule.pk}/", f"rules/{rule.pk}/delete/",
                 "webhooks/new/", f"webhooks/{hook.pk}/", f"webhooks/{hook.pk}/delete/"):
        assert csrf_client.post(ALERTS + path, RULE_FORM).status_code == 403, path
    assert AlertRule.objects.get() == rule and Webhook.objects.get() == hook


def test_editing_or_deleting_a_rule_needs_alerts_on_its_current_queues(
    settings: Any, dash_redis: str, make_user: Callable[..., User]
) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD,
                                "QUEUE_RULES": {"default:locked": {"alerts": ["lock-team"]}}}
    rule = a_rule(queue_pattern="locked")
    outsider = client_for(make_user("view", "alerts"))
    assert outsider.get(f"{ALERTS}rules/{rule.pk}/").status_code == 403
    # Moving the rule onto a queue the user may manage must not be a way to take it over.
    assert outsider.post(f"{ALERTS}rules/{rule.pk}/", RULE_FORM).status_code == 403
    assert outsider.post(f"{ALERTS}rules/{rule.pk}/delete/").status_code == 403
    rule.refresh_from_db()
    assert rule.queue_pattern == "locked"
    assert list(AuditLog.objects.order_by("id").values_list("action", "outcome")) == [
        ("alerts.rule.edit", "denied"), ("alerts.rule.delete", "denied")]
    team = client_for(make_user("view", "alerts", groups=("lock-team",)))
    assert team.post(f"{ALERTS}rules/{rule.pk}/delete/").status_code == 303
    assert not AlertRule.objects.exists()


def test_past_the_limit_pending_alerts_drop_off_never_firing_ones(manager: Client) -> None:
    from dashboard.alerts import listing

    user = User.objects.get()
    rule = a_rule()
    for i in range(5):
        AlertState.objects.create(rule=rule, connection="default", queue=f"p{i}",
                                  status="pending", breach_since=timezone.now())
    AlertState.objects.create(rule=rule, connection="default", queue="down", error="down")
    fire = firing(rule, queue="zz-last")
    rows = listing.active(user, limit=2)
    assert [(r.status, r.state.pk) for r in rows] == [
        ("firing", fire.pk), ("unknown", AlertState.objects.get(queue="down").pk)]
