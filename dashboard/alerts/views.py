"""The alerts page, one alert's history, the header banner, acknowledge and silence."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST

from dashboard import audit, permissions
from dashboard.alerts import listing
from dashboard.alerts.models import AlertDelivery, AlertEvent, AlertState, Webhook
from dashboard.csp import with_csp
from dashboard.views.base import dashboard_view, render_page, url

#: The silence buttons (seconds); a custom silence is given in minutes, at most 30 days.
SILENCES = ((3600, "1 h"), (4 * 3600, "4 h"), (86400, "1 d"))
MAX_SILENCE_MINUTES = 30 * 24 * 60


@require_GET
@dashboard_view(scoped=False)
def index(request: HttpRequest) -> HttpResponse:
    can_manage = permissions.can(request.user, "alerts")
    return render_page(
        request, "queue_dashboard/alerts/index.html",
        alerts=listing.active(request.user), rules=listing.rules(request.user),
        webhooks=Webhook.objects.all() if can_manage else [],
        events=listing.history(request.user), can_manage=can_manage, silences=SILENCES)


@require_GET
@dashboard_view(scoped=False)
def active_fragment(request: HttpRequest) -> HttpResponse:
    """The active alerts table alone, polled by the alerts page (htmx, every 10 s)."""
    return render_page(
        request, "queue_dashboard/alerts/_active.html", alerts=listing.active(request.user),
        can_manage=permissions.can(request.user, "alerts"), silences=SILENCES)


def _state_for(request: HttpRequest, pk: int) -> AlertState:
    state = get_object_or_404(AlertState.objects.select_related("rule"), pk=pk)
    if not permissions.can(request.user, "view", state.connection, state.queue):
        raise Http404("no such alert")
    return state


@require_GET
@dashboard_view(scoped=False)
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    state = _state_for(request, pk)
    deliveries = (AlertDelivery.objects.filter(event__state=state)
                  .select_related("event", "webhook").prefetch_related("attempt_log")[:50])
    return render_page(
        request, "queue_dashboard/alerts/alert.html", alert=listing.row(state),
        events=listing.history(request.user, 100, state), deliveries=deliveries,
        # The rule's pattern may since name a queue this user may not view: shown only when
        # the rule itself is visible to them (as on the rules list).
        rule_visible=listing.rule_visible(request.user, state.rule),
        can_manage=permissions.can(request.user, "alerts", state.connection, state.queue),
        silences=SILENCES)


@require_GET
@dashboard_view(scoped=False)
def banner(request: HttpRequest) -> HttpResponse:
    return render_page(request, "queue_dashboard/alerts/_banner.html",
                       counts=listing.banner(request.user))


def _back(request: HttpRequest, state: AlertState) -> HttpResponseRedirect:
    # 303: the browser follows a POST's answer with a GET.
    target = request.POST.get("next", "")
    if target != "detail":
        return HttpResponseRedirect(url(request, "alerts"), status=303)
    return HttpResponseRedirect(url(request, "alert", state.pk), status=303)


def _guard(request: HttpRequest, pk: int, label: str) -> AlertState:
    """The alert a POST acts on, once the user may manage it; a refusal is audited."""
    if not request.user.is_authenticated:
        raise PermissionDenied("login required")
    state = AlertState.objects.select_related("rule").filter(pk=pk).first()
    allowed = permissions.can(request.user, "alerts") and (
        state is None
        or permissions.can(request.user, "alerts", state.connection, state.queue))
    if not allowed:
        audit.record(request.user, label, outcome="denied",
                     connection=state.connection if state else "",
                     queue=state.queue if state else "", detail=f"alert {pk}")
        raise PermissionDenied(f"not allowed: {label}")
    if state is None:
        raise Http404("no such alert")
    return state


def _event(request: HttpRequest, state: AlertState, kind: str, detail: str = "") -> None:
    AlertEvent.objects.create(state=state, kind=kind, generation=state.generation,
                              value=state.value, username=request.user.get_username(),
                              detail=detail)
    audit.record(request.user, f"alerts.{kind}", outcome="ok", connection=state.connection,
                 queue=state.queue, detail=f"rule {state.rule.pk} {state.rule.name}: {detail}")


@require_POST
@csrf_protect
@with_csp
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    state = _guard(request, pk, "alerts.acknowledged")
    if state.status != AlertState.Status.FIRING:
        messages.error(request, _("Only a firing alert can be acknowledged."))
        return _back(request, state)
    state.acknowledged_at = timezone.now()
    state.acknowledged_by = request.user.get_username()
    state.save(update_fields=("acknowledged_at", "acknowledged_by"))
    _event(request, state, AlertEvent.Kind.ACKNOWLEDGED)
    messages.success(request, _("Alert acknowledged."))
    return _back(request, state)


def _silence_seconds(request: HttpRequest) -> int | None:
    raw = request.POST.get("seconds") or ""
    if raw:
        return int(raw) if raw in {str(s) for s, _label in SILENCES} else None
    minutes = request.POST.get("minutes", "")
    # isdigit() alone accepts "²", which int() refuses.
    if not (minutes.isascii() and minutes.isdigit()):
        return None
    if not 1 <= int(minutes) <= MAX_SILENCE_MINUTES:
        return None
    return int(minutes) * 60


@require_POST
@csrf_protect
@with_csp
def silence(request: HttpRequest, pk: int) -> HttpResponse:
    state = _guard(request, pk, "alerts.silenced")
    if request.POST.get("lift"):
        state.silenced_until = None
        state.save(update_fields=("silenced_until",))
        _event(request, state, AlertEvent.Kind.UNSILENCED)
        messages.success(request, _("Silence lifted."))
        return _back(request, state)
    seconds = _silence_seconds(request)
    if seconds is None:
        messages.error(request, _("Silence for 1 to %(max)d minutes.")
                       % {"max": MAX_SILENCE_MINUTES})
        return _back(request, state)
    state.silenced_until = timezone.now() + timedelta(seconds=seconds)
    state.save(update_fields=("silenced_until",))
    _event(request, state, AlertEvent.Kind.SILENCED,
           f"until {state.silenced_until:%Y-%m-%d %H:%M} UTC")
    messages.success(request, _("Alert silenced."))
    return _back(request, state)
