"""The alert models in Django's admin: the changelists and object pages render for a
superuser, nothing can be added, changed or deleted there (the dashboard's pages check and
audit that), the webhook secret is never shown, and a viewer without a queue's group sees no
row about that queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from dashboard.alerts.models import (
    AlertDelivery,
    AlertEvent,
    AlertRule,
    AlertState,
    DeliveryAttempt,
    Webhook,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]
ADMIN = "/ops/admin/queue_dashboard/"
MODELS = ("alertrule", "alertstate", "alertevent", "alertdelivery", "webhook")
SECRET_QUEUE = "secret-payroll"


def seed() -> dict[str, Any]:
    hook = Webhook.objects.create(name="ops-hook", url="https://hooks.example.com/x",
                                  secret="hush-hush-secret")
    owner = User.objects.create_user("rule-owner", is_staff=True, is_superuser=True)
    rule = AlertRule.objects.create(name="backlog <b>", connection="default", queue_pattern="*",
                                    kind="depth", threshold=1, owner=owner)
    rule.webhooks.add(hook)
    objects: dict[str, Any] = {"webhook": hook, "alertrule": rule}
    for queue in ("emails", SECRET_QUEUE):
        state = AlertState.objects.create(rule=rule, connection="default", queue=queue,
                                          status="firing", value=7, generation=1,
                                          fired_at=timezone.now())
        event = AlertEvent.objects.create(state=state, kind="fired", generation=1, value=7,
                                          transition="fired")
        delivery = AlertDelivery.objects.create(event=event, channel=f"webhook:{hook.pk}",
                                                webhook=hook, next_attempt_at=timezone.now())
        DeliveryAttempt.objects.create(delivery=delivery, ok=False, status_code=500,
                                       error="HTTP 500")
        if queue == "emails":
            objects.update(alertstate=state, alertevent=event, alertdelivery=delivery)
    return objects


def test_changelists_and_pages_render_read_only_for_a_superuser(
    admin_user_client: Client,
) -> None:
    objects = seed()
    index = admin_user_client.get(ADMIN).content.decode()
    for model in MODELS:
        assert f"{ADMIN}{model}/" in index, model
        listing = admin_user_client.get(f"{ADMIN}{model}/")
        assert listing.status_code == 200, model
        assert "hush-hush-secret" not in listing.content.decode()
        page = admin_user_client.get(f"{ADMIN}{model}/{objects[model].pk}/change/")
        assert page.status_code == 200, model
        html = page.content.decode()
        assert "hush-hush-secret" not in html and 'name="_save"' not in html, model
        assert admin_user_client.get(f"{ADMIN}{model}/add/").status_code == 403, model
        deleting = admin_user_client.post(f"{ADMIN}{model}/{objects[model].pk}/delete/",
                                          {"post": "yes"})
        assert deleting.status_code == 403, model
    assert AlertRule.objects.count() == 1 and AlertDelivery.objects.count() == 2
    states = admin_user_client.get(f"{ADMIN}alertstate/?status__exact=firing").content.decode()
    assert "emails" in states and SECRET_QUEUE in states
    delivery = admin_user_client.get(
        f"{ADMIN}alertdelivery/{objects['alertdelivery'].pk}/change/").content.decode()
    assert "HTTP 500" in delivery  # the attempts, inline


def test_rows_about_hidden_queues_are_left_out(
    settings: Any, make_user: Callable[..., User]
) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD,
                                "QUEUE_RULES": {"default:secret-*": {"view": ["payroll"]}}}
    seed()
    hidden = AlertState.objects.get(queue=SECRET_QUEUE)
    viewer = Client()
    viewer.force_login(make_user("view"))
    for model in ("alertstate", "alertevent", "alertdelivery"):
        listing = viewer.get(f"{ADMIN}{model}/")
        assert listing.status_code == 200, model
        html = listing.content.decode()
        assert SECRET_QUEUE not in html and "emails" in html, model
    response = viewer.get(f"{ADMIN}alertstate/{hidden.pk}/change/", follow=True)
    assert SECRET_QUEUE not in response.content.decode()
    assert viewer.get(f"{ADMIN}webhook/").status_code == 403  # webhooks: managers only
    manager = Client()
    manager.force_login(make_user("view", "alerts", groups=("payroll",)))
    assert SECRET_QUEUE in manager.get(f"{ADMIN}alertstate/").content.decode()
    assert manager.get(f"{ADMIN}webhook/").status_code == 200
