"""Failure groups, tracked bulk operations (dry run, run, progress, cancel) and Undo."""

from __future__ import annotations

import re
import uuid
from typing import NoReturn
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.http import HttpResponseRedirect as Redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard import audit, conf, permissions
from dashboard.bulk import groups as fg
from dashboard.bulk import operations as ops
from dashboard.bulk.sources import GroupSource, IdSource, IdsSource, StateSource
from dashboard.csp import with_csp
from dashboard.names import check_job_id
from dashboard.pagination import parse_int
from dashboard.search import QueryError, bulk_source, parse_query
from dashboard.search.bulk_source import SearchSource
from dashboard.services.common import STATES
from dashboard.views.base import dashboard_view, render_page, url
from dashboard.views.context import HtmxHttpRequest
from queuecore import QueueCoreError, RedisResponseError, Triage

_GROUP = re.compile(r"[0-9a-f]{16}")
_TOKEN = re.compile(r"[0-9a-f]{32}")
MAX_SELECTED = 1000
SAMPLE = 10


def _triage(connection: str, queue: str) -> Triage:
    return fg.triage(connection, queue)


def _fragment(request: HtmxHttpRequest, target: str) -> bool:
    return bool(request.htmx and request.htmx.target == target)


@require_GET
@vary_on_headers("HX-Request")
@dashboard_view()
def failures(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponse:
    """The failed jobs of a queue in groups (the index is brought up to date first, for at
    most a second; a page that is not up to date yet asks again by itself)."""
    t = _triage(connection, queue)
    error = ""
    try:
        result = fg.update(t, budget_s=1.0)
    except RedisResponseError as exc:  # a read-only replica or an ACL without writes
        result, error = fg.PassResult(0, False), str(exc)
    found = fg.groups(t)
    queue_url = url(request, "queue", connection, queue)
    # ``group:`` classifies each failed job as the groups do: exact even where the message
    # is masked (a ``reason:`` substring cannot match "card <n> declined").
    for_search = {g.key: f"{queue_url}?" + urlencode(
        {"state": "failed", "q": f"group:{g.key}"}) for g in found}
    template = ("queue_dashboard/bulk/_groups.html" if _fragment(request, "failure-groups")
                else "queue_dashboard/bulk/failures.html")
    return render_page(
        request, template, connection=connection, queue=queue, groups=found,
        searches=for_search, pending=result.pending, index_error=error,
        failed=sum(g.count for g in found),
        allowed=permissions.allowed_actions(request.user, connection, queue))


def _source(request: HttpRequest, connection: str, queue: str,
            params: dict[str, list[str]]) -> tuple[IdSource, str]:
    """The ids an action is for, from the query (dry run) or the form (run); and the group."""
    t = _triage(connection, queue)
    kind = (params.get("source") or ["ids"])[0]
    if kind == "state":
        state = (params.get("state") or [""])[0]
        if state not in STATES:
            raise Http404("unknown state")
        return StateSource(t, state), ""
    if kind == "search":
        return _search_source(request, t, params), ""
    if kind == "group":
        key = (params.get("group") or [""])[0]
        if not _GROUP.fullmatch(key):
            raise Http404("unknown group")
        title = next((f"{g.type}: {g.message}" for g in fg.groups(t) if g.key == key), key)
        return GroupSource(t, key, title), key
    ids = list(dict.fromkeys(params.get("ids") or []))[:MAX_SELECTED]
    try:
        return IdsSource([check_job_id(i) for i in ids]), ""
    except ValueError as exc:
        raise Http404("bad job id") from exc


def _search_source(request: HttpRequest, t: Triage, params: dict[str, list[str]]
                   ) -> SearchSource:
    """Every match of a search (``q`` and ``state``, as the queue page's URL has them). The
    dry run counts for up to two seconds; the run's form starts at once (its count is
    taken again by the operation)."""
    state = (params.get("state") or [""])[0]
    if state not in STATES:
        raise Http404("unknown state")
    try:
        query = parse_query((params.get("q") or [""])[0])
    except QueryError as exc:
        raise Http404(exc.message) from exc
    if query.empty:
        raise Http404("empty search")
    budget = bulk_source.DRY_RUN_BUDGET_S if request.method == "GET" else bulk_source.RUN_BUDGET_S
    return SearchSource(t.queue, state, query, budget_s=budget)


def _denied(request: HttpRequest, label: str, connection: str, queue: str) -> NoReturn:
    audit.record(request.user, label, outcome="denied", connection=connection, queue=queue)
    raise PermissionDenied(f"not allowed: {label}")


def _action(request: HttpRequest, connection: str, queue: str, action: str) -> str:
    if action not in ops.ACTIONS:
        raise Http404("unknown action")
    permission = ops.ACTIONS[action]
    if not permissions.can(request.user, permission, connection, queue):
        _denied(request, f"bulk {action}", connection, queue)
    return permission


@require_GET
@vary_on_headers("HX-Request")
@dashboard_view()
def confirm(request: HtmxHttpRequest, connection: str, queue: str, action: str) -> HttpResponse:
    """The dry run: how many jobs, a sample, and the form that starts the operation."""
    _action(request, connection, queue, action)
    source, group = _source(request, connection, queue, dict(request.GET.lists()))
    template = ("queue_dashboard/bulk/_confirm.html" if _fragment(request, "dialog")
                else "queue_dashboard/bulk/confirm.html")
    return render_page(
        request, template, connection=connection, queue=queue, action=action,
        source=source, group=group, count=source.count(), sample=source.sample(SAMPLE),
        kind=request.GET.get("source", "ids"), state=request.GET.get("state", ""),
        q=request.GET.get("q", ""),
        token=uuid.uuid4().hex, ids=source.ids if isinstance(source, IdsSource) else [],
        trash_minutes=max(1, ops.trash_seconds() // 60))


@require_POST
@csrf_protect
@with_csp
def run(request: HtmxHttpRequest, connection: str, queue: str, action: str) -> HttpResponseBase:
    if not request.user.is_authenticated:
        raise PermissionDenied("login required")
    if conf.get_settings().connection(connection) is None:
        raise Http404("unknown connection")
    _action(request, connection, queue, action)  # refusals are audited
    token = request.POST.get("token", "")
    if not _TOKEN.fullmatch(token):
        raise Http404("bad token")
    source, group = _source(request, connection, queue, dict(request.POST.lists()))
    if isinstance(source, SearchSource):  # its collection reports to the operation
        source.op_id = token
    priority = 0
    if action == "priority":
        priority = parse_int(request.POST.get("priority"), 0, lower=0, upper=2_097_151)
    t = _triage(connection, queue)
    try:
        started = ops.start(t, op_id=token, action=action, source=source, user=request.user,
                            priority=priority, group=group, connection=connection)
    except QueueCoreError as exc:
        messages.error(request, _("The operation could not start: %(e)s") % {"e": exc})
        return Redirect(url(request, "queue", connection, queue), status=303)
    if not started:
        messages.info(request, _("This operation was already started (the form was sent "
                                 "twice); here is its progress."), fail_silently=True)
    return Redirect(url(request, "bulk-op", connection, queue, token), status=303)


@require_GET
@vary_on_headers("HX-Request")
@dashboard_view()
def operation(request: HtmxHttpRequest, connection: str, queue: str, op_id: str) -> HttpResponse:
    """An operation's progress (the fragment polls itself every second while it runs)."""
    if not _TOKEN.fullmatch(op_id):
        raise Http404("no such operation")
    state = ops.get(_triage(connection, queue), op_id)
    if state is None:
        raise Http404("no such operation")
    template = ("queue_dashboard/bulk/_operation.html" if _fragment(request, "bulk-op")
                else "queue_dashboard/bulk/operation.html")
    return render_page(request, template, connection=connection, queue=queue, op=state,
                       allowed=permissions.allowed_actions(request.user, connection, queue))


@require_POST
@csrf_protect
@with_csp
def op_action(request: HtmxHttpRequest, connection: str, queue: str, op_id: str,
              verb: str) -> HttpResponseBase:
    """Cancel a running operation, or Undo a finished removal."""
    if not request.user.is_authenticated:
        raise PermissionDenied("login required")
    if verb not in ("cancel", "undo") or not _TOKEN.fullmatch(op_id):
        raise Http404("unknown action")
    if conf.get_settings().connection(connection) is None:
        raise Http404("unknown connection")
    label = f"{verb} operation"
    if not permissions.can(request.user, "view", connection, queue):
        _denied(request, label, connection, queue)
    t = _triage(connection, queue)
    state = ops.get(t, op_id)
    if state is None:  # its record expired (a day): nothing to cancel or undo
        messages.error(request, _("This operation is not known any more."), fail_silently=True)
        return Redirect(url(request, "queue", connection, queue), status=303)
    needed = "remove" if verb == "undo" else ops.ACTIONS.get(state.action, "remove")
    if not permissions.can(request.user, needed, connection, queue):
        _denied(request, label, connection, queue)
    target = url(request, "bulk-op", connection, queue, op_id)
    if verb == "cancel":
        ops.cancel(t, op_id)
        messages.info(request, _("Stopping the operation after its current chunk."),
                      fail_silently=True)
        return Redirect(target, status=303)
    if not state.undoable:  # undone already, its trash expired, or not a removal
        messages.info(request, _("This operation cannot be undone (any more)."),
                      fail_silently=True)
        return Redirect(target, status=303)
    restored, skipped = ops.undo(t, op_id, request.user, connection)
    text = ngettext("%(n)d job restored.", "%(n)d jobs restored.", restored) % {"n": restored}
    if skipped:
        text += " " + _("%(n)d could not be (a new job has the id, or it expired).") % {
            "n": skipped}
    messages.success(request, text, fail_silently=True)
    if request.POST.get("next") == "queue":
        target = url(request, "queue", connection, queue)
    return Redirect(target, status=303)
