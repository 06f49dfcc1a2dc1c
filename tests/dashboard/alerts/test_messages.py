"""Notification bodies and the alert settings: untrusted names cannot break a header or a
Slack message, the signature is HMAC-SHA256 over "<timestamp>.<body>", bad settings are
refused with the key named."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard.alerts import messages
from dashboard.alerts.models import AlertEvent, AlertRule, AlertState
from dashboard.alerts.settings import AlertSettings, parse

pytestmark = pytest.mark.django_db


def _event(name: str, queue: str = "q<&>") -> AlertEvent:
    rule = AlertRule.objects.create(name=name, connection="default", queue_pattern="q*",
                                    kind="depth", threshold=10)
    state = AlertState.objects.create(rule=rule, connection="default", queue=queue,
                                      generation=1, value=12)
    return AlertEvent.objects.create(state=state, kind="fired", generation=1, value=12)


def test_subject_has_no_line_breaks_and_slack_text_is_escaped(dash_redis: str) -> None:
    event = _event("evil\r\nBcc: victim@example.com <@channel> & " + "z" * 5000)
    subject = messages.subject(event)
    assert "\n" not in subject and "\r" not in subject and len(subject) <= 250
    text = messages.slack_body(event)["text"]
    assert "<@channel>" not in text and "&lt;@channel&gt; &amp;" in text
    assert "q&lt;&amp;&gt;" in text
    generic = messages.generic_body(event)
    assert generic["queue"] == "q<&>" and generic["event"] == "fired"
    assert json.loads(messages.encode(generic))["rule"]["name"].startswith("evil\r\n")


def test_signature_covers_timestamp_and_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert messages.signature("k", "1700000000", body) == "sha256=" + expected
    assert messages.signature("k", "1700000001", body) != "sha256=" + expected


def test_settings_defaults_and_refusals() -> None:
    assert parse({}) == AlertSettings()
    assert parse({}).lease == 90.0
    assert parse({"ALERTS_INTERVAL_SECONDS": 0.5}).lease == 5.0
    for key, value in (("ALERTS_INTERVAL_SECONDS", 0), ("ALERTS_DELIVERY_ATTEMPTS", 0),
                       ("ALERTS_BACKOFF_SECONDS", "5"), ("ALERTS_WEBHOOK_TIMEOUT", True)):
        with pytest.raises(ImproperlyConfigured, match=key):
            parse({key: value})
