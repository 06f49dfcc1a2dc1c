"""Import jobs from an NDJSON upload (a dry run first) and copy or move jobs to another
queue. Each has a form page (GET, ``view``) and a POST-only endpoint that checks, acts and
audits like the other actions: htmx gets the result in place (the import's dry run), a plain
form post a message and a redirect (303) back to the page."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBase
from django.http import HttpResponseRedirect as Redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST

from dashboard import audit, connections
from dashboard.csp import with_csp
from dashboard.names import check_queue_name
from dashboard.search.importer import MAX_IMPORT_BYTES, ImportPlan, apply_import, plan_import
from dashboard.search.page import read_search
from dashboard.search.scanner import collect_ids
from dashboard.search.transfer import MAX_SCAN, MAX_TRANSFER, TransferResult, transfer
from dashboard.services.common import describe
from dashboard.views.base import check_access, dashboard_view, render_page, url
from dashboard.views.context import HtmxHttpRequest
from queuecore import QueueCoreError

_ID_SPLIT = re.compile(r"[\s,]+")
#: Errors of a dry run told as messages after a plain form post (htmx shows them all).
_MESSAGE_ERRORS = 10


def _checked(request: HtmxHttpRequest, action: str, connection: str, queue: str,
             label: str, source: str) -> None:
    """``check_access``, with a refusal audited as the other actions' are."""
    try:
        check_access(request, action, connection, queue)
    except PermissionDenied:
        audit.record(request.user, label, outcome="denied", connection=connection,
                     queue=source)
        raise


def _login_required(request: HtmxHttpRequest) -> None:
    if not request.user.is_authenticated:
        raise PermissionDenied("login required")


@require_GET
@dashboard_view()
def import_page(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponse:
    return render_page(request, "queue_dashboard/search/import.html", connection=connection,
                       queue=queue, max_bytes=MAX_IMPORT_BYTES,
                       queue_url=url(request, "queue", connection, queue))


def _plan_messages(request: HtmxHttpRequest, plan: ImportPlan) -> None:
    messages.info(request, _("Dry run: %(n)d lines read, %(good)d jobs ready, %(bad)d with "
                             "errors. Nothing was written.")
                  % {"n": plan.lines, "good": len(plan.entries), "bad": plan.error_count},
                  fail_silently=True)
    for line, text in plan.errors[:_MESSAGE_ERRORS]:
        messages.error(request, f"{_('line')} {line}: {text}" if line else text,
                       fail_silently=True)


@require_POST
@csrf_protect
@with_csp
def import_run(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponseBase:
    """Check the uploaded file; ``mode=import`` also writes it, all of it or nothing."""
    _login_required(request)
    _checked(request, "edit", connection, queue, "import", queue)
    back = url(request, "import", connection, queue)
    fragment = "queue_dashboard/search/import_result.html"

    def answer(status: str = "", **context: Any) -> HttpResponseBase:
        if request.htmx:
            return render_page(request, fragment, **context)
        if context.get("plan") is not None and context.get("imported") is None:
            _plan_messages(request, context["plan"])
        elif status:
            level = messages.SUCCESS if context.get("imported") is not None else messages.ERROR
            messages.add_message(request, level, status, fail_silently=True)
        return Redirect(back, status=303)

    upload = request.FILES.get("file")
    if upload is None:
        problem = _("Choose an NDJSON file.")
        return answer(problem, problem=problem)
    if upload.size is None or upload.size > MAX_IMPORT_BYTES:
        problem = _("The file is larger than %(n)s bytes.") % {"n": f"{MAX_IMPORT_BYTES:,}"}
        return answer(problem, problem=problem)
    plan = plan_import(upload.read())
    if request.POST.get("mode") != "import" or not plan.ok:
        return answer(plan=plan, dry_run=True)
    try:
        ids = apply_import(connections.get_queue(connection, queue), plan)
    except QueueCoreError as exc:
        audit.record(request.user, "import", outcome="error", connection=connection,
                     queue=queue, count=len(plan.entries), detail=describe(exc))
        return answer(describe(exc), problem=describe(exc))
    audit.record(request.user, "import", outcome="ok", connection=connection, queue=queue,
                 job_ids=ids, count=len(ids), detail=f"file={upload.name}")
    done = ngettext("Imported %(n)d job.", "Imported %(n)d jobs.", len(ids)) % {"n": len(ids)}
    return answer(done, imported=len(ids))


@require_GET
@dashboard_view()
def transfer_page(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponse:
    """The form, for a search's matches (``q``, ``state``, ``cursor``) or a list of ids."""
    params = request.GET
    return render_page(
        request, "queue_dashboard/search/transfer.html", connection=connection, queue=queue,
        search=read_search(params), ids=params.get("ids", ""),
        target=params.get("target", ""), mode=params.get("mode", "copy"), max=MAX_TRANSFER,
        queue_url=url(request, "queue", connection, queue))


def _ids_of(request: HtmxHttpRequest, connection: str, queue: str) -> tuple[list[str], int]:
    """The jobs to transfer: ``ids`` given, or the matches of the search (up to the caps on
    matches and on entries read), with the cursor after the part read (0: the search was
    done)."""
    raw = request.POST.get("ids", "").strip()
    if raw:
        return [i for i in _ID_SPLIT.split(raw) if i][:MAX_TRANSFER], 0
    search = read_search(request.POST)
    if search.query is None:
        raise ValueError(search.error.message if search.error else
                         _("Give job ids or a search."))
    return collect_ids(connections.get_queue(connection, queue), search.state, search.query,
                       search.cursor, limit=MAX_TRANSFER, max_scan=MAX_SCAN)


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
    else:
        text = ngettext("Copied %(n)d job to %(target)s.", "Copied %(n)d jobs to %(target)s.",
                        n) % {"n": n, "target": target}
    if result.missing:
        text += " " + ngettext("%(n)d job was not found.", "%(n)d jobs were not found.",
                               len(result.missing)) % {"n": len(result.missing)}
    return text


@require_POST
@csrf_protect
@with_csp
def transfer_run(request: HtmxHttpRequest, connection: str, queue: str) -> HttpResponseBase:
    """Copy or move, then back to the form with a message (and the rest of a search that
    had more than ``MAX_TRANSFER`` matches)."""
    _login_required(request)
    move = request.POST.get("mode") == "move"
    label = "move jobs" if move else "copy jobs"
    _checked(request, "view", connection, queue, label, queue)
    search = read_search(request.POST)
    target = request.POST.get("target", "").strip()

    def back(**changes: object) -> Redirect:
        query = search.params(target=target, mode="move" if move else "copy", **changes)
        return Redirect(url(request, "transfer", connection, queue, query=query), status=303)

    try:
        check_queue_name(target)
    except ValueError:
        messages.error(request, _("Name a target queue."), fail_silently=True)
        return back()
    if target == queue:
        messages.error(request, _("The target is this queue: choose another one."),
                       fail_silently=True)
        return back()
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
        messages.error(request, describe(exc), fail_silently=True)
        return back()
    message = _summary(result, move, target)
    audit.record(request.user, label, outcome="ok", connection=connection, queue=queue,
                 job_ids=result.copied, count=len(result.copied),
                 detail=f"to {target}; {message}")
    if cursor:
        if len(ids) >= MAX_TRANSFER:
            message += " " + _("Stopped at %(n)s jobs: submit again to go on with the rest."
                               ) % {"n": f"{MAX_TRANSFER:,}"}
        else:
            message += " " + _("Stopped after reading %(n)s jobs of the state: submit again "
                               "to go on from there.") % {"n": f"{cursor - search.cursor:,}"}
        messages.success(request, message, fail_silently=True)
        # Moved jobs left the part read, so the rest moved up by as many. Jobs found gone
        # (``result.missing``) are not counted back: one whose hash vanished may still sit in
        # the state (its position kept), and going back over the part read could copy again
        # a job that was not removed; one that left the state meanwhile makes the next part
        # start that many entries late, which a repeated search finds (as any job removed
        # elsewhere during the scan would).
        return back(cursor=max(cursor - result.removed, 0) if move else cursor)
    messages.success(request, message, fail_silently=True)
    return Redirect(url(request, "queue", connection, target), status=303)
