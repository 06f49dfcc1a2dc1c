"""Import jobs from an NDJSON upload (a dry run first) and copy or move jobs to another
queue: forms on a page of their own, answered inline (htmx) or as a whole page."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBase
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from dashboard import audit, connections
from dashboard.csp import with_csp
from dashboard.names import check_queue_name
from dashboard.search.importer import MAX_IMPORT_BYTES, apply_import, plan_import
from dashboard.search.page import read_search
from dashboard.search.scanner import iter_matching_ids
from dashboard.search.transfer import MAX_TRANSFER, TransferResult, transfer
from dashboard.services.common import READ_ERRORS, describe
from dashboard.views.base import check_access, dashboard_view, render_page, url
from dashboard.views.context import HtmxHttpRequest
from queuecore import QueueCoreError

_ID_SPLIT = re.compile(r"[\s,]+")


def _checked(request: HtmxHttpRequest, action: str, connection: str, queue: str,
             label: str, source: str) -> None:
    """``check_access``, with a refusal audited as the other actions' are."""
    try:
        check_access(request, action, connection, queue)
    except PermissionDenied:
        audit.record(request.user, label, outcome="denied", connection=connection,
                     queue=source)
        raise


def _form_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponseBase]:
    """GET as every page (login, then ``view``); a POST is checked by the view itself,
    so that every refusal of a change is audited as the other actions' are."""
    page = dashboard_view()(view)

    @wraps(view)
    def wrapper(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != "POST":
            return page(request, *args, **kwargs)
        if not request.user.is_authenticated:
            raise PermissionDenied("login required")
        try:
            return view(request, *args, **kwargs)
        except connections.UnknownConnectionError as exc:
            raise Http404("unknown connection") from exc

    return with_csp(wrapper)


@require_http_methods(["GET", "POST"])
@csrf_protect
@_form_view
def import_jobs(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponse:
    """GET: the upload form. POST (``edit``): check the file; ``mode=import`` also writes it,
    all of it or nothing."""
    context: dict[str, Any] = {"connection": connection, "queue": queue,
                               "max_bytes": MAX_IMPORT_BYTES,
                               "queue_url": url(request, "queue", connection, queue)}
    template = "queue_dashboard/search/import.html"
    if request.method == "GET":
        return render_page(request, template, **context)
    _checked(request, "edit", connection, queue, "import", queue)
    fragment = "queue_dashboard/search/import_result.html" if request.htmx else template
    upload = request.FILES.get("file")
    if upload is None:
        return render_page(request, fragment, problem=_("Choose an NDJSON file."), **context)
    if upload.size is None or upload.size > MAX_IMPORT_BYTES:
        return render_page(request, fragment, problem=_(
            "The file is larger than %(n)s bytes.") % {"n": f"{MAX_IMPORT_BYTES:,}"}, **context)
    plan = plan_import(upload.read())
    context["plan"] = plan
    if request.POST.get("mode") != "import" or not plan.ok:
        return render_page(request, fragment, dry_run=True, **context)
    try:
        ids = apply_import(connections.get_queue(connection, queue), plan)
    except READ_ERRORS as exc:
        audit.record(request.user, "import", outcome="error", connection=connection,
                     queue=queue, count=len(plan.entries), detail=describe(exc))
        return render_page(request, fragment, problem=describe(exc), **context)
    audit.record(request.user, "import", outcome="ok", connection=connection, queue=queue,
                 job_ids=ids, count=len(ids), detail=f"file={upload.name}")
    return render_page(request, fragment, imported=len(ids), **context)


def _ids_of(request: HtmxHttpRequest, connection: str, queue: str) -> tuple[list[str], int]:
    """The jobs to transfer: ``ids`` given, or the matches of the search (up to the cap),
    with the cursor after the last one taken (0: the search was done)."""
    raw = request.POST.get("ids", "").strip()
    if raw:
        return [i for i in _ID_SPLIT.split(raw) if i][:MAX_TRANSFER], 0
    search = read_search(request.POST)
    if search.query is None:
        raise ValueError(search.error.message if search.error else
                         _("Give job ids or a search."))
    ids: list[str] = []
    cursor = 0
    source = connections.get_queue(connection, queue)
    for job_id, after in iter_matching_ids(source, search.state, search.query, search.cursor):
        if len(ids) == MAX_TRANSFER:
            return ids, cursor
        ids.append(job_id)
        cursor = after
    return ids, 0


def _summary(result: TransferResult, move: bool, target: str) -> str:
    n = len(result.copied)
    if move:
        text = ngettext("Moved %(n)d job to %(target)s.", "Moved %(n)d jobs to %(target)s.",
                        result.removed) % {"n": result.removed, "target": target}
        if result.not_removed:
            text += " " + ngettext(
                "%(n)d job was copied but could not be removed (active or locked): it is in "
                "both queues.", "%(n)d jobs were copied but could not be removed (active or "
                "locked): they are in both queues.", len(result.not_removed)
            ) % {"n": len(result.not_removed)}
        return text
    return ngettext("Copied %(n)d job to %(target)s.", "Copied %(n)d jobs to %(target)s.",
                    n) % {"n": n, "target": target}


@require_http_methods(["GET", "POST"])
@csrf_protect
@_form_view
def transfer_jobs(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponse:
    """GET: the form (for a search's matches or a list of ids). POST: copy or move them."""
    params = request.POST if request.method == "POST" else request.GET
    search = read_search(params)
    context: dict[str, Any] = {"connection": connection, "queue": queue, "search": search,
                               "ids": params.get("ids", ""), "target": params.get("target", ""),
                               "mode": params.get("mode", "copy"), "max": MAX_TRANSFER,
                               "queue_url": url(request, "queue", connection, queue)}
    template = "queue_dashboard/search/transfer.html"
    if request.method == "GET":
        return render_page(request, template, **context)
    move = request.POST.get("mode") == "move"
    label = "move jobs" if move else "copy jobs"
    _checked(request, "view", connection, queue, label, queue)
    target = request.POST.get("target", "").strip()
    try:
        check_queue_name(target)
    except ValueError:
        return render_page(request, template, problem=_("Name a target queue."), **context)
    if target == queue:
        return render_page(request, template, status=400, problem=_(
            "The target is this queue: choose another one."), **context)
    _checked(request, "edit", connection, target, label, queue)
    if move:
        _checked(request, "remove", connection, queue, label, queue)
    try:
        ids, cursor = _ids_of(request, connection, queue)
        result = transfer(connections.get_queue(connection, queue),
                          connections.get_queue(connection, target), ids, move=move)
    except (QueueCoreError, ValueError) as exc:
        audit.record(request.user, label, outcome="error", connection=connection, queue=queue,
                     detail=f"to {target}: {describe(exc)}")
        return render_page(request, template, problem=describe(exc), **context)
    message = _summary(result, move, target)
    audit.record(request.user, label, outcome="ok", connection=connection, queue=queue,
                 job_ids=result.copied, count=len(result.copied),
                 detail=f"to {target}; {message}")
    more_url = None
    if cursor:
        more_url = url(request, "transfer", connection, queue,
                       query=search.params(cursor=cursor, target=target,
                                           mode="move" if move else "copy"))
    return render_page(request, template, done=message, result=result, more_url=more_url,
                       target_url=url(request, "queue", connection, target), **context)
