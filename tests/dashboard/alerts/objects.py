"""One webhook, one rule and its firing alert, each with id 1: what the security tests'
declared alert routes act on."""

from __future__ import annotations

from django.utils import timezone

from dashboard.alerts.models import AlertRule, AlertState, Webhook


def seed_alert_objects() -> None:
    webhook = Webhook.objects.create(pk=1, name="ops", url="https://hooks.example.com/a")
    rule = AlertRule.objects.create(pk=1, name="backlog", connection="default",
                                    queue_pattern="emails", kind="depth", threshold=1)
    rule.webhooks.add(webhook)
    AlertState.objects.create(pk=1, rule=rule, connection="default", queue="emails",
                              status="firing", value=2, generation=1, fired_at=timezone.now())
