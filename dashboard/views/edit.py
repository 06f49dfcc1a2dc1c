"""Editing jobs (the ``edit`` permission): the add form (also a duplicate's), and changing a
queued job's priority or a delayed job's delay. Audited and CSRF protected like every action."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponseBase
from django.http import HttpResponseRedirect as Redirect
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from dashboard import actions, audit, connections, edit_jobs
from dashboard.csp import with_csp
from dashboard.views.actions import _login_required, perform
from dashboard.views.base import check_access, dashboard_view, render_page, url
from dashboard.views.context import HtmxHttpRequest
from queuecore import JobNotInStateError, QueueCoreError

EDITS = {"priority": edit_jobs.change_priority, "delay": edit_jobs.change_delay}


@require_http_methods(["GET", "POST"])
@csrf_protect
@dashboard_view()
def add_job(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponseBase:
    """The add form; ``?from=<id>`` prefills it from that job (a duplicate)."""
    check_access(request, "edit", connection, queue)
    target = connections.get_queue(connection, queue)
    limit = edit_jobs.data_limit(target)
    source = request.GET.get("from", "")
    if request.method == "POST":
        form = edit_jobs.AddJobForm(request.POST, limit=limit)
        if form.is_valid():
            try:
                job = edit_jobs.add_job(connection, queue, form)
            except QueueCoreError as exc:
                form.add_error(None, f"{type(exc).__name__}: {exc}")
                audit.record(request.user, "add job", outcome="error", connection=connection,
                             queue=queue, detail=f"{type(exc).__name__}: {exc}")
            else:
                text = _("Job %(id)s added.") % {"id": job.id}
                audit.record(request.user, "add job", outcome="ok", connection=connection,
                             queue=queue, job_ids=(job.id,), count=1,
                             detail=f"{text} name={job.name!r}"
                             + (f" from {source}" if source else ""))
                messages.success(request, text, fail_silently=True)
                return Redirect(url(request, "job", connection, queue, job.id), status=303)
        status = 400
    else:
        initial = {}
        if source:
            original = target.get_job(source)
            if original is None:
                raise Http404("job not found")
            initial = edit_jobs.duplicate_initial(original)
        form = edit_jobs.AddJobForm(initial=initial, limit=limit)
        status = 200
    return render_page(request, "queue_dashboard/controls/add_job.html", status=status,
                       form=form, connection=connection, queue=queue, source=source)


@require_POST
@csrf_protect
@with_csp
def edit_job(request: HtmxHttpRequest, connection: str, queue: str, job_id: str,
             what: str) -> HttpResponseBase:
    """Change a queued job's priority or a delayed job's delay."""
    _login_required(request)
    if what not in EDITS:
        raise Http404("unknown edit")
    change = EDITS[what]
    job_url = url(request, "job", connection, queue, job_id)
    field = request.POST.get(what)

    def run() -> actions.Outcome:
        return actions.Outcome(change(connection, queue, job_id, field), 1, [job_id])

    def calm(exc: Exception) -> str | None:
        if not isinstance(exc, JobNotInStateError):
            return None
        job = connections.get_queue(connection, queue).get_job(job_id)
        state = job.get_state() if job is not None else _("removed")
        return _("Job %(id)s is %(state)s now: nothing was changed.") % {
            "id": job_id, "state": state}

    return perform(request, "edit", connection, queue, run, label=f"change {what}",
                   job_ids=(job_id,), success_url=job_url, failure_url=job_url, calm=calm)
