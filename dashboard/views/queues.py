from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard import conf, permissions
from dashboard.actions import CLEANABLE_STATES
from dashboard.pagination import parse_int
from dashboard.services.common import STATES
from dashboard.services.queue_page import queue_page
from dashboard.views.base import dashboard_view, render_page, url
from dashboard.views.context import HtmxHttpRequest
from dashboard.views.errors import NotFound, require_queue


@require_GET
@vary_on_headers("HX-Request")
@dashboard_view()
def queue_detail(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponse:
    """One queue: a tab per state and a bounded page of its jobs (a fragment for htmx)."""
    settings = conf.get_settings()
    state = request.GET.get("state") or "waiting"
    if state not in STATES:
        raise NotFound("state", state=state, states=STATES, connection=connection, queue=queue)
    unknown = require_queue(request, connection, queue)
    size = parse_int(request.GET.get("size"), settings.page_size, upper=settings.max_page_size)
    # The delayed tab opens soonest due first (its score is the due time); others newest first.
    order = request.GET.get("order") or ("oldest" if state == "delayed" else "newest")
    asc = order == "oldest"
    data = queue_page(connection, queue, state, request.GET.get("page"), size, asc)
    fragment = request.htmx and request.htmx.target == "jobs"
    template = "queue_dashboard/fragments/jobs.html" if fragment else "queue_dashboard/queue.html"
    return render_page(
        request,
        template,
        data=data,
        summary=data.summary,
        connection=connection,
        queue=queue,
        states=STATES,
        cleanable_states=CLEANABLE_STATES,
        allowed=permissions.allowed_actions(request.user, connection, queue),
        order="oldest" if asc else "newest",
        size=size,
        unknown_queue=unknown,
    )


@require_GET
@dashboard_view()
def jump(request: HttpRequest, connection: str, queue: str) -> HttpResponseRedirect:
    """Go to a job by id (a plain GET form, so it works without JavaScript)."""
    job_id = request.GET.get("id", "").strip()
    if not job_id or "/" in job_id:
        return HttpResponseRedirect(url(request, "queue", connection, queue))
    return HttpResponseRedirect(url(request, "job", connection, queue, job_id))
