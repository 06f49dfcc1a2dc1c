"""``{% load charts %}``: the overview's attention marks and its sparklines' geometry."""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from dashboard.services import overview
from dashboard.services.summary import QueueSummary
from dashboard.throughput import CHART_HEIGHT, Throughput

register = template.Library()


@register.filter
def stuck(q: QueueSummary) -> bool:
    return overview.stuck(q)


@register.filter
def needs_attention(q: QueueSummary) -> bool:
    return overview.needs_attention(q)


@dataclass(frozen=True, slots=True)
class SparkBar:
    x: int
    completed: int
    failed: int
    ok_y: int
    ok_height: int
    failed_y: int
    failed_height: int


@register.filter
def spark_bars(t: Throughput | None) -> list[SparkBar]:
    """Stacked bars (completed below, failed on top) scaled to the busiest slot."""
    if t is None:
        return []
    peak = max((c + f for c, f in zip(t.completed, t.failed, strict=True)), default=0)
    out = []
    for i, (c, f) in enumerate(zip(t.completed, t.failed, strict=True)):
        total = round(CHART_HEIGHT * (c + f) / peak) if peak else 0
        failed = round(total * f / (c + f)) if c + f else 0
        if f and not failed:
            failed = 1  # a failure is never invisible
        ok = max(0, total - failed)
        out.append(SparkBar(x=i * 10, completed=c, failed=f, ok_y=CHART_HEIGHT - ok,
                            ok_height=ok, failed_y=CHART_HEIGHT - ok - failed,
                            failed_height=failed))
    return out


@register.simple_tag
def sparkline(t: Throughput | None) -> SafeString:
    """The overview's last-hour sparkline: inline SVG, drawn here rather than by a template
    include (a page has 50 of them; this is several times faster). Only numbers and
    translated, escaped texts go in."""
    if t is None:
        return mark_safe('<span class="qd-muted">\u2013</span>')  # a constant
    tip = escape(_("%(ok)d completed, %(failed)d failed"))
    parts = []
    for b in spark_bars(t):
        parts.append("<g><title>" + tip % {"ok": b.completed, "failed": b.failed} + "</title>")
        if b.ok_height:
            parts.append(f'<rect class="qd-spark-ok" x="{b.x}" y="{b.ok_y}" width="8" '
                         f'height="{b.ok_height}"/>')
        if b.failed_height:
            parts.append(f'<rect class="qd-spark-failed" x="{b.x}" y="{b.failed_y}" '
                         f'width="8" height="{b.failed_height}"/>')
        parts.append("</g>")
    label = escape(_("last hour: %(ok)d completed, %(failed)d failed") % {
        "ok": t.total_completed, "failed": t.total_failed})
    failed = (f' · <span class="qd-spark-failed-total">{t.total_failed}&#x2715;</span>'
              if t.total_failed else "")
    return mark_safe(  # numbers, a known source word and escaped texts
        f'<span class="qd-spark" data-source="{escape(t.source)}"><svg class="qd-spark-svg" '
        f'width="120" height="40" viewBox="0 0 120 40" role="img" aria-label="{label}">'
        '<line class="qd-spark-base" x1="0" y1="39.5" x2="120" y2="39.5"/>'
        + "".join(parts) + f'</svg><span class="qd-spark-total qd-num">{t.total_completed}'
        f'{failed}</span></span>')
