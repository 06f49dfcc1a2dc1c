"""Machine-readable endpoints: JSON health (200/503) and Prometheus text counts."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from dashboard import conf, permissions
from dashboard.csp import with_csp
from dashboard.services.overview import all_counts
from dashboard.services.redis_info import ping
from dashboard.services.summary import QueueSummary


def _token_ok(request: HttpRequest) -> bool:
    token = conf.get_settings().api_token
    header = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


def _allowed(request: HttpRequest) -> bool:
    return _token_ok(request) or permissions.can(request.user, "view")


@require_GET
@with_csp
def health(request: HttpRequest) -> JsonResponse:
    """``{"status": "ok"}`` with 200 when every connection answers, else 503.

    Public when ``HEALTH_PUBLIC`` (the default): it names connections, never queues.
    """
    settings = conf.get_settings()
    if not settings.health_public and not _allowed(request):
        raise PermissionDenied("health needs a token or the view permission")
    checks = {}
    for conn in settings.connections:
        error = ping(conn.name)
        checks[conn.name] = {"ok": not error}
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "connections": checks}, status=200 if ok else 503
    )


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _series(metric: str, s: QueueSummary, state: str | None = None) -> str:
    labels = f'connection="{_label(s.connection)}",queue="{_label(s.name)}"'
    if state is not None:
        labels += f',state="{_label(state)}"'
    return f"{metric}{{{labels}}}"


def _seconds(ms: int | None) -> str:
    return f"{(ms or 0) / 1000:.3f}"


#: Per-queue gauges: name, HELP text, value. Each is one line per queue, read from the
#: summary that ``all_counts`` built with a fixed number of commands per queue.
_QUEUE_GAUGES: tuple[tuple[str, str, Callable[[QueueSummary], object]], ...] = (
    ("queue_dashboard_paused", "1 while the queue is paused.", lambda s: int(s.paused)),
    ("queue_dashboard_workers", "Workers connected to the queue.", lambda s: s.workers),
    (
        "queue_dashboard_oldest_waiting_seconds",
        "Age in seconds of the oldest job in the wait list (0 when none waits; prioritized "
        "and delayed jobs are not counted).",
        lambda s: _seconds(s.oldest_waiting_ms),
    ),
)
FINISHED_HELP = (
    "Jobs finished per queue and outcome since its workers began recording metrics: the "
    "running count in BullMQ's metrics:completed / metrics:failed hashes, a counter (use "
    "rate() or increase()); only for queues whose workers record metrics."
)


def render_metrics(summaries: list[QueueSummary]) -> str:
    readable = [s for s in summaries if not s.error and s.name]
    lines = [
        "# HELP queue_dashboard_jobs Jobs per queue and state.",
        "# TYPE queue_dashboard_jobs gauge",
    ]
    for s in readable:
        for state, count in s.counts.items():
            lines.append(f"{_series('queue_dashboard_jobs', s, state)} {count}")
    for metric, help_text, value in _QUEUE_GAUGES:
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        lines += [f"{_series(metric, s)} {value(s)}" for s in readable]
    lines += [
        f"# HELP queue_dashboard_jobs_finished_total {FINISHED_HELP}",
        "# TYPE queue_dashboard_jobs_finished_total counter",
    ]
    for s in readable:
        for state, total in sorted((s.finished_totals or {}).items()):
            lines.append(f"{_series('queue_dashboard_jobs_finished_total', s, state)} {total}")
    lines += [
        "# HELP queue_dashboard_up 1 when the connection could be read.",
        "# TYPE queue_dashboard_up gauge",
    ]
    down = {s.connection for s in summaries if s.error}
    for conn in conf.get_settings().connections:
        lines.append(
            f'queue_dashboard_up{{connection="{_label(conn.name)}"}} {int(conn.name not in down)}'
        )
    return "\n".join(lines) + "\n"


@require_GET
@with_csp
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; needs ``API_TOKEN`` as a bearer token or a permitted user."""
    if not _allowed(request):
        raise PermissionDenied("metrics need a token or the view permission")
    summaries = [
        s
        for s in all_counts()
        if not s.name
        or _token_ok(request)
        or permissions.can(request.user, "view", s.connection, s.name)
    ]
    return HttpResponse(
        render_metrics(summaries), content_type="text/plain; version=0.0.4; charset=utf-8"
    )
