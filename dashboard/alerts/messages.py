"""The text and JSON bodies of alert notifications, and their HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from dashboard.alerts import settings as alert_settings
from dashboard.alerts.models import AlertEvent, AlertKind

SIGNATURE_HEADER = "X-Queue-Dashboard-Signature"
TIMESTAMP_HEADER = "X-Queue-Dashboard-Timestamp"
DELIVERY_HEADER = "X-Queue-Dashboard-Delivery"
#: Names and queue names are untrusted and may be huge: cut in messages.
_MAX_NAME = 200


def _cut(text: str, limit: int = _MAX_NAME) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(event: AlertEvent) -> str:
    """One line: what happened, which rule, where, the value and the threshold."""
    state = event.state
    rule = state.rule
    word = "FIRING" if event.kind == AlertEvent.Kind.FIRED else "RESOLVED"
    label = AlertKind(rule.kind).label
    value = "?" if event.value is None else f"{event.value:g}"
    return (f"[{word}] {_cut(rule.name)}: {label} on {_cut(state.connection)}:"
            f"{_cut(state.queue)} (value {value}, threshold {rule.threshold:g})")


def subject(event: AlertEvent) -> str:
    # A header: no line breaks (Django refuses them), however the rule was named.
    return " ".join(summary(event).split())[:250]


def link() -> str:
    base = alert_settings.get().base_url
    return base.rstrip("/") + "/alerts/" if base else ""


def email_text(event: AlertEvent) -> str:
    url = link()
    return summary(event) + (f"\n\n{url}\n" if url else "\n")


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(event: AlertEvent) -> dict[str, Any]:
    text = _slack_escape(summary(event))
    url = link()
    body: dict[str, Any] = {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }
    if url:
        body["blocks"].append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<{url}|Open the alerts page>"}]})
    return body


def generic_body(event: AlertEvent) -> dict[str, Any]:
    state = event.state
    rule = state.rule
    return {
        "event": event.kind,
        "alert_id": state.pk,
        "generation": event.generation,
        "rule": {"id": rule.pk, "name": rule.name, "kind": rule.kind,
                 "threshold": rule.threshold, "resolve_threshold": rule.clear_threshold},
        "connection": state.connection,
        "queue": state.queue,
        "value": event.value,
        "at": event.created_at.isoformat(),
        "text": summary(event),
        "url": link(),
    }


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``<timestamp>.<body>`` (the timestamp is signed
    too, so a receiver can refuse a replayed old request)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()
