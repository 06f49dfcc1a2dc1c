"""Controls that stay true: a repeated action answered calmly, and the way back after one.

A second click on Promote (another tab, a double click, a stale button) finds the job no
longer delayed and queuecore says "job 97 is not in the state promote needs". That is not a
failure to the operator: the job is already where they wanted it. ``calm_job`` reads the
job's state after such an error and says so ("Job 97 was already promoted."), as info.

``back_url``: after an action the operator stays on the tab, page and sort they acted from,
when the page they came from (htmx's ``HX-Current-URL``, else the ``Referer``) is one of
this mount's pages of the same queue on the same host; anything else falls back.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from django.http import HttpRequest
from django.urls import Resolver404, get_script_prefix, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dashboard import connections
from dashboard.views.context import namespace
from queuecore import QueueCoreError

#: job action -> the states the job is in once the action has been done
DONE_STATES: dict[str, frozenset[str]] = {
    "promote": frozenset({"waiting", "prioritized", "paused", "active", "completed", "failed"}),
    "retry": frozenset({"waiting", "prioritized", "paused", "active"}),
}


def calm_job(action: str, connection: str, queue: str, job_id: str,
             exc: Exception) -> str | None:
    """The calm answer when job action ``action`` failed with ``exc`` because it was done
    already (or the job is gone); None when the error is a real one."""
    if not isinstance(exc, QueueCoreError):
        return None
    try:
        job = connections.get_queue(connection, queue).get_job(job_id)
        state = job.get_state() if job is not None else ""
    except QueueCoreError:
        return None  # Redis away: the original error is the true answer
    if job is None:
        # Gone: calm for a second remove; for anything else the error says "not found".
        return _("Job %(id)s was already removed.") % {"id": job_id} if action == "remove" \
            else None
    if state in DONE_STATES.get(action, ()):
        if action == "promote":
            return _("Job %(id)s was already promoted (it is %(state)s now).") % {
                "id": job_id, "state": state}
        return _("Job %(id)s was already retried (it is %(state)s now).") % {
            "id": job_id, "state": state}
    return None


def calm_queue(action: str, connection: str, queue: str) -> str | None:
    """A pause of a paused queue (a double submit, another tab) is answered so; None when
    the action has something to do."""
    if action not in ("pause", "resume"):
        return None
    paused = connections.get_queue(connection, queue).is_paused()
    if action == "pause" and paused:
        return _("Queue %(queue)s was already paused.") % {"queue": queue}
    if action == "resume" and not paused:
        return _("Queue %(queue)s was already running.") % {"queue": queue}
    return None


def back_url(request: HttpRequest, fallback: str, connection: str, queue: str,
             views: Iterable[str] = ("queue",), job_id: str | None = None) -> str:
    """The page the action came from, when it is one of ``views`` of this mount for the same
    queue (and job) on this host; else ``fallback``."""
    raw = request.headers.get("HX-Current-URL") or request.META.get("HTTP_REFERER") or ""
    if not raw or not url_has_allowed_host_and_scheme(
            raw, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return fallback
    parts = urlsplit(raw)
    prefix = get_script_prefix()
    if not parts.path.startswith(prefix):
        return fallback
    try:
        match = resolve("/" + parts.path[len(prefix):])
    except Resolver404:
        return fallback
    wanted = set(views)
    if (match.namespace != namespace(request) or match.url_name not in wanted
            or match.kwargs.get("connection") != connection
            or match.kwargs.get("queue") != queue
            or (match.url_name == "job" and match.kwargs.get("job_id") != job_id)):
        return fallback
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


#: The clean form's units of age, as ``_grace_ms`` reads them.
CLEAN_UNITS = (("s", gettext_lazy("seconds")), ("m", gettext_lazy("minutes")),
               ("h", gettext_lazy("hours")), ("d", gettext_lazy("days")))
