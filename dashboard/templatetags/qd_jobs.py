"""``{% load qd_jobs %}``: times the browser shows in the viewer's zone (jobs.js), compact
durations, worker links and the JSON tree of the job page.

A ``<time>`` carries its instant as ISO UTC and shows the UTC time until jobs.js rewrites it
(relative, with the exact local time and zone on hover), so that the page reads right without
JavaScript too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from dashboard.durations import compact_duration
from dashboard.jobtext import short_worker_name, worker_anchor, worker_identity

register = template.Library()

#: How a time reads: "rel" (3 min ago), "both" (the local time and, after it, how long ago),
#: "countdown" (in 4 min 10 s, ticking).
MODES = ("rel", "both", "countdown")


@register.simple_tag
def qd_time(when: datetime | None, mode: str = "rel") -> SafeString:
    if when is None:
        return format_html("{}", "\u2013")
    if mode not in MODES:
        mode = "rel"
    utc = when.astimezone(UTC)
    iso = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    text = utc.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
    return format_html('<time class="qd-time" datetime="{}" data-qd-time="{}" title="{}">{}'
                       "</time>", iso, mode, text, text)


@register.filter
def duration(ms: Any) -> str:
    return compact_duration(ms) if isinstance(ms, int | float) else ""


@register.simple_tag(takes_context=True)
def worker_link(context: template.Context, name: str, queue: str) -> SafeString:
    """The worker's short name, its full name on hover, linked to its row on the workers
    page of the connection."""
    if not name:
        return format_html("{}", "")
    namespace = context.get("dashboard_ns") or "queue_dashboard"
    connection = context.get("connection") or ""
    from django.urls import reverse

    href = reverse(f"{namespace}:workers", args=[str(connection)])
    return format_html('<a class="qd-worker" href="{}#{}" title="{}">{}</a>', href,
                       worker_anchor(queue, name), gettext("worker %(name)s") % {"name": name},
                       short_worker_name(name))


@register.simple_tag
def worker_row_id(queue: str, client_name: str) -> str:
    return worker_anchor(queue, worker_identity(client_name))


@register.simple_tag
def worker_short(client_name: str) -> str:
    return short_worker_name(worker_identity(client_name))
