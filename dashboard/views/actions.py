"""POST-only actions. Each request is checked, performed through ``dashboard.actions`` and
audited; bulk and destructive ones first show a confirmation (a read-only GET)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.http import HttpResponseRedirect as Redirect
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from dashboard import actions, audit, controls
from dashboard.csp import with_csp
from dashboard.live import notify
from dashboard.pagination import parse_int
from dashboard.views.base import check_access, dashboard_view, render_page, url
from dashboard.views.context import HtmxHttpRequest
from queuecore import QueueCoreError

#: job action -> (permission action, function)
JOB_ACTIONS: dict[str, tuple[str, Callable[[str, str, str], actions.Outcome]]] = {
    "retry": ("retry", actions.retry_job),
    "remove": ("remove", actions.remove_job),
    "promote": ("promote", actions.promote_job),
}

#: bulk action in the URL -> permission action
QUEUE_ACTIONS: dict[str, str] = {
    "retry-all": "retry",
    "promote-all": "promote",
    "clean": "clean",
    "pause": "pause",
    "resume": "pause",
    "drain": "drain",
    "obliterate": "obliterate",
}
CONFIRMED = frozenset({"retry-all", "promote-all", "clean", "drain", "obliterate"})


def _redirect(request: HtmxHttpRequest, to: str) -> HttpResponseBase:
    if request.htmx:
        return HttpResponseClientRedirect(to)
    return Redirect(to, status=303)


def perform(
    request: HtmxHttpRequest,
    action: str,
    connection: str,
    queue: str,
    run: Callable[[], actions.Outcome],
    *,
    label: str,
    job_ids: tuple[str, ...] = (),
    success_url: str,
    failure_url: str,
    already: Callable[[], str | None] | None = None,
    calm: Callable[[Exception], str | None] | None = None,
) -> HttpResponseBase:
    """Check, run, audit and report one action request. ``already`` says when there is
    nothing to do (a repeated request); ``calm`` turns an error that means "done already"
    into that answer (both told as info, audited as ok with nothing touched)."""
    try:
        check_access(request, action, connection, queue)
    except PermissionDenied:
        audit.record(
            request.user,
            label,
            outcome="denied",
            connection=connection,
            queue=queue,
            job_ids=job_ids,
        )
        raise
    try:
        done = already() if already else None
        if done:
            return _calm(request, label, connection, queue, job_ids, done, success_url)
        outcome = run()
    except (QueueCoreError, ValueError) as exc:
        done = calm(exc) if calm else None
        if done:
            return _calm(request, label, connection, queue, job_ids, done, success_url)
        audit.record(
            request.user,
            label,
            outcome="error",
            connection=connection,
            queue=queue,
            job_ids=job_ids,
            detail=f"{type(exc).__name__}: {exc}",
        )
        failed = _("%(action)s failed: %(error)s") % {"action": label, "error": exc}
        messages.error(request, failed, fail_silently=True)
        return _redirect(request, failure_url)
    audit.record(
        request.user,
        label,
        outcome="ok",
        connection=connection,
        queue=queue,
        job_ids=outcome.job_ids or job_ids,
        count=outcome.count,
        detail=outcome.message,
    )
    messages.success(request, outcome.message, fail_silently=True)
    notify.queue_notice(connection, queue, f"{request.user.get_username()}: {outcome.message}")
    if outcome.resume is not None:  # a clean in steps: its confirmation, from where it stopped
        post = request.POST
        success_url = url(request, "confirm", connection, queue, "clean", query=urlencode({
            "state": post.get("state", ""), "age": post.get("age", ""),
            "unit": post.get("unit", ""), "from": outcome.resume}))
    return _redirect(request, success_url)


def _calm(request: HtmxHttpRequest, label: str, connection: str, queue: str,
          job_ids: tuple[str, ...], text: str, to: str) -> HttpResponseBase:
    audit.record(request.user, label, outcome="ok", connection=connection, queue=queue,
                 job_ids=job_ids, count=0, detail=text)
    messages.info(request, text, fail_silently=True)
    return _redirect(request, to)


def _login_required(request: HttpRequest) -> None:
    if not request.user.is_authenticated:
        raise PermissionDenied("login required")


@require_POST
@csrf_protect
@with_csp
def job_action(
    request: HtmxHttpRequest, connection: str, queue: str, job_id: str, action: str
) -> HttpResponseBase:
    _login_required(request)
    if action not in JOB_ACTIONS:
        raise Http404("unknown action")
    permission, function = JOB_ACTIONS[action]
    job_url = url(request, "job", connection, queue, job_id)
    queue_url = url(request, "queue", connection, queue)
    return perform(
        request,
        permission,
        connection,
        queue,
        lambda: function(connection, queue, job_id),
        label=f"{action} job",
        job_ids=(job_id,),
        success_url=(
            controls.back_url(request, queue_url, connection, queue)
            if action == "remove"
            else controls.back_url(request, job_url, connection, queue, ("job", "queue"), job_id)
        ),
        failure_url=job_url,
        calm=lambda exc: controls.calm_job(action, connection, queue, job_id, exc),
    )


UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
#: Bounds of the numbers a URL or form gives: a position in a state (JavaScript's safe
#: integers, more than any list holds) and an age (a billion units): past them Redis or
#: the clock would refuse the figure and the page would fail.
MAX_POSITION = 2**53
MAX_AGE = 10**9


def _grace_ms_of(age: int, unit: str) -> int:
    if unit not in UNIT_MS:
        raise ValueError("unknown unit")
    return age * UNIT_MS[unit]


def _grace_ms(request: HttpRequest) -> int:
    """The age from the form, in ms: ``age`` and ``unit`` (s, m, h, d)."""
    return _grace_ms_of(parse_int(request.POST.get("age"), 1, lower=0, upper=MAX_AGE),
                        request.POST.get("unit", "h"))


def _run_queue_action(
    request: HttpRequest, action: str, connection: str, queue: str
) -> Callable[[], actions.Outcome]:
    post = request.POST
    if action == "retry-all":
        return lambda: actions.retry_all(connection, queue)
    if action == "promote-all":
        return lambda: actions.promote_all(connection, queue)
    if action == "pause":
        return lambda: actions.pause(connection, queue)
    if action == "resume":
        return lambda: actions.resume(connection, queue)
    if action == "drain":
        return lambda: actions.drain(connection, queue, delayed=post.get("delayed") == "on")
    if action == "clean":
        state = post.get("state", "completed")
        start = parse_int(post.get("from"), 0, lower=0, upper=MAX_POSITION)
        return lambda: actions.clean(connection, queue, state, _grace_ms(request), start)

    def obliterate() -> actions.Outcome:
        if post.get("confirm_name") != queue:
            raise ValueError("type the queue name to confirm")
        return actions.obliterate(connection, queue, force=post.get("force") == "on")

    return obliterate


@require_POST
@csrf_protect
@with_csp
def queue_action(
    request: HtmxHttpRequest, connection: str, queue: str, action: str
) -> HttpResponseBase:
    _login_required(request)
    if action not in QUEUE_ACTIONS:
        raise Http404("unknown action")
    queue_url = url(request, "queue", connection, queue)
    failure_url = (
        url(request, "confirm", connection, queue, action) if action in CONFIRMED else queue_url
    )
    success_url = (
        url(request, "overview")
        if action == "obliterate"
        else controls.back_url(request, queue_url, connection, queue)
    )
    return perform(
        request,
        QUEUE_ACTIONS[action],
        connection,
        queue,
        _run_queue_action(request, action, connection, queue),
        label=action,
        success_url=success_url,
        failure_url=failure_url,
        already=lambda: controls.calm_queue(action, connection, queue),
    )


@require_GET
@vary_on_headers("HX-Request")
@dashboard_view()
def confirm(request: HtmxHttpRequest, connection: str, queue: str, action: str) -> HttpResponse:
    """How many jobs a bulk action will touch, and the form that does it (reads only)."""
    if action not in CONFIRMED:
        raise Http404("unknown action")
    check_access(request, QUEUE_ACTIONS[action], connection, queue)
    state = request.GET.get("state", "completed")
    if action == "clean" and state not in actions.CLEANABLE_STATES:
        raise Http404("unknown state")
    unit = request.GET.get("unit", "h")
    if unit not in dict(controls.CLEAN_UNITS):
        unit = "h"  # a bad unit in the URL is ignored, as the form would never send it
    age = parse_int(request.GET.get("age"), 1, lower=0, upper=MAX_AGE)
    grace_ms = _grace_ms_of(age, unit)
    start = parse_int(request.GET.get("from"), 0, lower=0, upper=MAX_POSITION)
    preview = actions.preview(
        action,
        connection,
        queue,
        state=state,
        delayed=request.GET.get("delayed") == "on",
        grace_ms=grace_ms,
        start=start,
    )
    template = (
        "queue_dashboard/fragments/confirm.html" if request.htmx else "queue_dashboard/confirm.html"
    )
    return render_page(
        request,
        template,
        preview=preview,
        action=action,
        connection=connection,
        queue=queue,
        state=state,
        cleanable_states=actions.CLEANABLE_STATES,
        delayed=request.GET.get("delayed") == "on",
        age=age,
        unit=unit,
        clean_units=controls.CLEAN_UNITS,
        start=start,
    )


@require_http_methods(["POST"])
@csrf_protect
@with_csp
def remove_scheduler(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponseBase:
    _login_required(request)
    scheduler_id = request.POST.get("id", "")
    target = url(request, "schedulers", connection, queue)
    return perform(
        request,
        "schedulers",
        connection,
        queue,
        lambda: actions.remove_scheduler(connection, queue, scheduler_id),
        label="remove scheduler",
        job_ids=(scheduler_id,),
        success_url=target,
        failure_url=target,
    )
