from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard import permissions
from dashboard.services import job_page
from dashboard.views.base import dashboard_view, render_page
from dashboard.views.errors import NotFound

FULL_FIELDS = frozenset({"data", "opts", "returnvalue"})


@require_GET
@dashboard_view()
def job_detail(request: HttpRequest, connection: str, queue: str, job_id: str) -> HttpResponse:
    """One job: data, options, progress, logs, stack trace, result, timeline and relations."""
    full = [f for f in request.GET.getlist("full") if f in FULL_FIELDS]
    detail = job_page.job_detail(connection, queue, job_id, request.GET.get("logs"), full)
    if detail is None:
        raise NotFound("job", job_id=job_id, connection=connection, queue=queue)
    return render_page(
        request,
        "queue_dashboard/job.html",
        job=detail,
        connection=connection,
        queue=queue,
        allowed=permissions.allowed_actions(request.user, connection, queue),
    )
