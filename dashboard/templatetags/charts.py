"""``{% load charts %}``: the overview's attention marks and its sparklines' geometry."""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from dashboard.services import overview
from dashboard.services.summary import QueueSummary
from dashboard.templatetags.qd_look import qd_count
from dashboard.templatetags.queue_dashboard import dom_id, state_label
from dashboard.throughput import CHART_HEIGHT, Throughput

register = template.Library()
DASH = "\u2013"


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
    source = escape(_("from the per-minute metrics that workers record") if t.from_metrics
                    else _("from the retained completed and failed jobs (no metrics recorded:"
                           " start workers with metrics enabled)"))
    ok = escape(_("%(n)d ok") % {"n": t.total_completed})
    failed = escape(_("%(n)d failed") % {"n": t.total_failed})
    emphasis = " qd-spark-failed-total" if t.total_failed else ""
    return mark_safe(  # numbers, a known source word and escaped texts
        f'<span class="qd-spark" data-source="{escape(t.source)}" title="{label}, {source}">'
        f'<svg class="qd-spark-svg" width="120" height="40" viewBox="0 0 120 40" role="img" '
        f'aria-label="{label}"><line class="qd-spark-base" x1="0" y1="39.5" x2="120" '
        f'y2="39.5"/>' + "".join(parts) + f'</svg><span class="qd-spark-total qd-num{emphasis}">'
        f'{ok} / {failed}</span></span>')


@register.simple_tag(takes_context=True)
def overview_rows(context: template.Context, rows: list[QueueSummary], states: list[str],
                  multi: bool) -> SafeString:
    """The overview's table rows, built here: the page's hot loop (50 rows of a dozen cells;
    a template loop costs several times more). Every text from Redis or settings (names,
    connection, error) is escaped; the rest are numbers and translated labels."""
    namespace = context.get("dashboard_ns") or "queue_dashboard"
    labels = {s: escape(state_label(s)) for s in states}
    paused = escape(_("paused"))
    no_workers = escape(_("no workers"))
    no_workers_tip = escape(_("jobs are waiting and no worker is connected"))
    l_workers, l_oldest, l_hour = (escape(_(t)) for t in ("workers", "oldest waiting",
                                                          "last hour"))
    out = []
    for q in rows:
        qid = dom_id(q.connection, q.name)
        url = escape(reverse(f"{namespace}:queue", args=[q.connection, q.name]))
        name = escape(q.name)
        attention = " qd-needs-attention" if overview.needs_attention(q) else ""
        cells = [f'<tr class="qd-queue-row{attention}" data-queue="{name}" '
                 f'data-connection="{escape(q.connection)}"><td class="qd-queue-name">'
                 f'<a class="qd-queue-link" href="{url}" title="{name}"><bdi>{name}</bdi></a>']
        if multi:
            cells.append(f' <span class="qd-conn-label">{escape(q.connection)}</span>')
        badge = (f'<span class="qd-badge qd-state-paused qd-paused">{paused}</span>'
                 if q.paused else "")
        cells.append(f' <span id="{qid}-paused">{badge}</span>')
        if overview.stuck(q):
            cells.append(f' <span class="qd-badge qd-warning qd-no-workers" '
                         f'title="{no_workers_tip}">{no_workers}</span>')
        cells.append("</td>")
        if q.error:
            cells.append(f'<td colspan="{len(states) + 3}" class="qd-error">'
                         f'{escape(q.error)}</td></tr>')
            out.append("".join(cells))
            continue
        for s in states:
            n = int(q.counts.get(s, 0))
            zero = "" if n else " qd-zero"
            cells.append(f'<td class="qd-num qd-count qd-state-{s}{zero}" data-label='
                         f'"{labels[s]}"><a href="{url}?state={s}"><span id="{qid}-{s}" '
                         f'class="{qd_count(n, s)}">{n}</span></a></td>')
        zero = "" if q.workers else " qd-zero"
        cells.append(f'<td class="qd-num{zero}" data-label="{l_workers}">{q.workers}</td>'
                     f'<td class="qd-oldest" data-label="{l_oldest}">'
                     f'{escape(q.oldest_waiting_age or DASH)}</td>'
                     f'<td class="qd-last-hour" data-label="{l_hour}">'
                     f'{sparkline(q.throughput)}</td></tr>')
        out.append("".join(cells))
    return mark_safe("".join(out))  # built from escaped texts and numbers only
