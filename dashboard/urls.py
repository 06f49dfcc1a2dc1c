"""``path("queues/", include("dashboard.urls"))``; the admin mounts the same patterns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, path, register_converter

from dashboard.alerts.urls import patterns as alert_patterns
from dashboard.names import JobIdConverter, QueueNameConverter
from dashboard.views import (
    actions,
    bulk,
    connection,
    edit,
    history,
    jobs,
    live_help,
    monitoring,
    overview,
    queues,
    schedulers,
    search,
)

app_name = "queue_dashboard"

Wrap = Callable[[Callable[..., Any]], Callable[..., Any]]

# Names from URLs are checked before a view sees them: a bad one does not match (404).
register_converter(QueueNameConverter, "queue_dashboard_queue")
register_converter(JobIdConverter, "queue_dashboard_job")


def build_urlpatterns(wrap: Wrap | None = None) -> list[URLPattern]:
    """The dashboard's URL patterns, each view passed through ``wrap`` (the admin's guard)."""

    def w(view: Callable[..., Any]) -> Callable[..., Any]:
        return wrap(view) if wrap else view

    q = "<str:connection>/q/<queue_dashboard_queue:queue>/"
    job = q + "jobs/<queue_dashboard_job:job_id>/"
    return [
        path("", w(overview.overview), name="overview"),
        path("health/", monitoring.health, name="health"),
        path("metrics/", monitoring.metrics, name="metrics"),
        path("help/live/", w(live_help.live_help), name="live-help"),
        *alert_patterns(w),
        path("<str:connection>/workers/", w(connection.workers), name="workers"),
        path("<str:connection>/redis/", w(connection.redis_info), name="redis"),
        path("<str:connection>/history/", w(history.connection_history_view), name="history"),
        path(q + "history/", w(history.queue_history_view), name="queue-history"),
        path(q, w(queues.queue_detail), name="queue"),
        path(q + "jump/", w(queues.jump), name="jump"),
        path(q + "schedulers/", w(schedulers.schedulers), name="schedulers"),
        path(q + "schedulers/remove/", w(actions.remove_scheduler), name="remove-scheduler"),
        path(q + "confirm/<str:action>/", w(actions.confirm), name="confirm"),
        path(q + "actions/<str:action>/", w(actions.queue_action), name="queue-action"),
        path(q + "failures/", w(bulk.failures), name="failures"),
        path(q + "bulk/<str:action>/", w(bulk.confirm), name="bulk-confirm"),
        path(q + "bulk/<str:action>/run/", w(bulk.run), name="bulk-run"),
        path(q + "ops/<str:op_id>/", w(bulk.operation), name="bulk-op"),
        path(q + "ops/<str:op_id>/<str:verb>/", w(bulk.op_action), name="bulk-op-action"),
        path(job, w(jobs.job_detail), name="job"),
        path(job + "<str:action>/", w(actions.job_action), name="job-action"),
        path(q + "add/", w(edit.add_job), name="add-job"),
        path(job + "edit/<str:what>/", w(edit.edit_job), name="job-edit"),
        *search.urlpatterns(q, w),
    ]


urlpatterns = build_urlpatterns()
