from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard import permissions
from dashboard.services import job_page
from dashboard.views.base import dashboard_view, render_page

FULL_FIELDS = frozenset({"data", "opts", "returnvalue"})


@require_GET
@dashboard_view()
def job_detail(request: HttpRequest, connection: str, queue: str, job_id: str) -> HttpResponse:
    """One job: data, options, progress, logs, stack trace, result, timeline and relations."""
    full = [f for f in request.GET.getlist("full") if f in FULL_FIELDS]
    detail = job_page.job_detail(connection, queue, job_id, request.GET.get("logs"), full)
    if detail is None:
        raise Http404("job not found")
    return render_page(
        request,
        "queue_dashboard/job.html",
        job=detail,
        connection=connection,
        queue=queue,
        allowed=permissions.allowed_actions(request.user, connection, queue),
    )
