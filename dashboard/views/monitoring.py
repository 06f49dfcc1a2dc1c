"""Machine-readable endpoints: JSON health (200/503) and Prometheus text counts."""

from __future__ import annotations

import hmac

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from dashboard import conf, permissions, services
from dashboard.csp import with_csp


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
        error = services.ping(conn.name)
        checks[conn.name] = {"ok": not error}
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "connections": checks}, status=200 if ok else 503
    )


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_metrics(summaries: list[services.QueueSummary]) -> str:
    lines = [
        "# HELP queue_dashboard_jobs Jobs per queue and state.",
        "# TYPE queue_dashboard_jobs gauge",
    ]
    for s in summaries:
        if s.error or not s.name:
            continue
        for state, count in s.counts.items():
            lines.append(
                f'queue_dashboard_jobs{{connection="{_label(s.connection)}",'
                f'queue="{_label(s.name)}",state="{_label(state)}"}} {count}'
            )
    for metric, help_text, value in (
        ("queue_dashboard_paused", "1 while the queue is paused.", lambda s: int(s.paused)),
        ("queue_dashboard_workers", "Workers connected to the queue.", lambda s: s.workers),
    ):
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        for s in summaries:
            if not s.error and s.name:
                lines.append(
                    f'{metric}{{connection="{_label(s.connection)}",queue="{_label(s.name)}"}} '
                    f"{value(s)}"
                )
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
        for s in services.all_counts()
        if not s.name
        or _token_ok(request)
        or permissions.can(request.user, "view", s.connection, s.name)
    ]
    return HttpResponse(
        render_metrics(summaries), content_type="text/plain; version=0.0.4; charset=utf-8"
    )
