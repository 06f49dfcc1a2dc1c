"""Send queued deliveries: email through Django's backend, webhooks by HTTP POST (urllib).

Any evaluator process may send: each delivery is claimed by a conditional UPDATE before it is
sent, so it goes out once. A failed attempt is recorded and retried with exponential backoff
up to ``ALERTS_DELIVERY_ATTEMPTS``; a claim left by a process that died expires and the
delivery is taken up again.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from dashboard.alerts import coverage, messages
from dashboard.alerts import settings as alert_settings
from dashboard.alerts.models import AlertDelivery, DeliveryAttempt, Webhook

log = logging.getLogger("dashboard.alerts")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A webhook answers itself: a redirect (which urllib would follow as a GET) is a failure.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class DeliveryError(Exception):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class Withheld(DeliveryError):
    """Not sent, and never will be: the rule's owner may not view the alert's queue (any more),
    and the message would carry its name and figures."""


def post_webhook(webhook: Webhook, body: bytes, delivery_id: int, timeout: float) -> int:
    """POST ``body``; the status code on 2xx, else ``DeliveryError``."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "queue-dashboard-alerts",
        messages.TIMESTAMP_HEADER: timestamp,
        messages.DELIVERY_HEADER: str(delivery_id),
    }
    if webhook.secret:
        headers[messages.SIGNATURE_HEADER] = messages.signature(webhook.secret, timestamp, body)
    request = urllib.request.Request(webhook.url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}", exc.code) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}", status)
    return status


def _send(delivery: AlertDelivery, timeout: float) -> int | None:
    event = delivery.event
    rule = event.state.rule
    # Checked again at sending time: the owner may have lost access since the event.
    if not coverage.owner_may_view(rule, event.state.connection, event.state.queue):
        raise Withheld("withheld: the rule's owner may not view this queue")
    if delivery.channel == "email":
        sender = alert_settings.get().from_email or None
        send_mail(messages.subject(event), messages.email_text(event), sender,
                  rule.recipients(), fail_silently=False)
        return None
    webhook = delivery.webhook
    if webhook is None:
        raise DeliveryError("the webhook was deleted")
    if not coverage.changer_may_view(rule, webhook, event.state.connection, event.state.queue):
        raise Withheld("withheld: the webhook was last changed by someone who may not view "
                       "this queue")
    body = (messages.slack_body(event) if webhook.format == Webhook.Format.SLACK
            else messages.generic_body(event))
    return post_webhook(webhook, messages.encode(body), delivery.pk, timeout)


def _due(now: datetime) -> Q:
    return (Q(status=AlertDelivery.Status.PENDING, next_attempt_at__lte=now)
            | Q(status=AlertDelivery.Status.SENDING, claimed_until__lt=now))


def _claim(pk: int, now: datetime, hold: float) -> bool:
    # The hold runs from the clock now, not from the batch's start: after slow sends earlier
    # in the batch, ``now`` + hold may already be past, and another process would claim again.
    start = max(now, timezone.now())
    claimed = AlertDelivery.objects.filter(_due(now), pk=pk).update(
        status=AlertDelivery.Status.SENDING, claimed_until=start + timedelta(seconds=hold))
    return claimed == 1


def attempt(delivery: AlertDelivery) -> bool:
    """One attempt, recorded; the delivery is then sent, pending a retry, or failed."""
    settings = alert_settings.get()
    started = time.monotonic()
    status_code: int | None = None
    error = ""
    final = False
    try:
        status_code = _send(delivery, settings.webhook_timeout)
    except Withheld as exc:
        error, final = str(exc), True
    except DeliveryError as exc:
        error, status_code = str(exc), exc.status_code
    except Exception as exc:  # an email backend may raise anything
        error = f"{type(exc).__name__}: {exc}"
    duration = int((time.monotonic() - started) * 1000)
    DeliveryAttempt.objects.create(delivery=delivery, ok=not error, status_code=status_code,
                                   error=error[:2000], duration_ms=duration)
    delivery.attempts += 1
    delivery.claimed_until = None
    if not error:
        delivery.status = AlertDelivery.Status.SENT
        delivery.last_error = ""
    else:
        delivery.last_error = error[:2000]
        if final or delivery.attempts >= settings.attempts:
            delivery.status = AlertDelivery.Status.FAILED
            log.warning("alert delivery %s failed for good: %s", delivery.pk, error)
        else:
            delivery.status = AlertDelivery.Status.PENDING
            wait = min(settings.backoff * 2 ** (delivery.attempts - 1), settings.backoff_max)
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=wait)
    delivery.save(update_fields=("attempts", "claimed_until", "status", "last_error",
                                 "next_attempt_at"))
    return not error


def deliver_due(now: datetime | None = None, limit: int = 50) -> int:
    """Claim and send the deliveries that are due; returns how many attempts were made."""
    now = now or timezone.now()
    settings = alert_settings.get()
    hold = 2 * settings.webhook_timeout + 30
    done = 0
    ids = list(AlertDelivery.objects.filter(_due(now)).order_by("next_attempt_at", "pk")
               .values_list("pk", flat=True)[:limit])
    for pk in ids:
        if not _claim(pk, now, hold):
            continue  # another process took it
        delivery = AlertDelivery.objects.select_related(
            "event__state__rule__owner", "webhook__changed_by").get(pk=pk)
        attempt(delivery)
        done += 1
    return done
