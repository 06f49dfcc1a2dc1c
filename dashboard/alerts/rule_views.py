"""Create, edit and delete alert rules and webhooks (the ``alerts`` permission), audited."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from dashboard import audit, permissions
from dashboard.alerts import listing
from dashboard.alerts.forms import AlertRuleForm, WebhookForm
from dashboard.alerts.models import AlertRule, Webhook
from dashboard.views.base import dashboard_view, render_page, url


def _rule_detail(rule: AlertRule) -> str:
    return (f"rule {rule.pk} {rule.name!r}: {rule.kind} on {rule.connection}:"
            f"{rule.queue_pattern} > {rule.threshold:g}, enabled={rule.enabled}")


def _require(request: HttpRequest, label: str) -> None:
    """The ``alerts`` permission, or 403 (a refused POST is audited)."""
    if not permissions.can(request.user, "alerts"):
        if request.method == "POST":
            audit.record(request.user, label, outcome="denied", detail=request.path[:500])
        raise PermissionDenied(f"not allowed: {label}")


def _visible_rule(request: HttpRequest, pk: int, label: str) -> AlertRule:
    """The rule, when the user may see it and manage alerts of its queues as they stand now
    (creation checks the new queues; editing or deleting must check the existing ones)."""
    rule = get_object_or_404(AlertRule, pk=pk)
    if not listing.rule_visible(request.user, rule):
        raise Http404("no such rule")
    _require(request, label)
    if not permissions.can(request.user, "alerts", rule.connection, rule.queue_pattern):
        if request.method == "POST":
            audit.record(request.user, label, outcome="denied", detail=request.path[:500])
        raise PermissionDenied(f"not allowed: {label}")
    return rule


def _refused_webhook(request: HttpRequest, webhook: Webhook, label: str) -> HttpResponse | None:
    """403 with a page saying why, unless the user may change ``webhook``: a superuser, or
    whoever owns every rule that sends to it. A webhook is shared by rules, and a rule covers
    the queues its owner may view: pointing another owner's webhook elsewhere would send
    their alerts (queue names and figures) there."""
    _require(request, label)
    user = request.user
    if getattr(user, "is_superuser", False) or not webhook.rules.exclude(
            owner_id=user.pk).exists():
        return None
    if request.method == "POST":
        audit.record(user, label, outcome="denied",
                     detail=f"webhook {webhook.pk}: used by rules of other owners")
    return render_page(
        request, "queue_dashboard/alerts/delete.html", obj=webhook, what="webhook",
        refused=_("This webhook is used by alert rules of other people: only a superuser may "
                  "change or delete it while they use it."), status=403)


def _edit(request: HttpRequest, form_class: Any, instance: Model | None, what: str,
          template: str) -> HttpResponse:
    _require(request, f"alerts.{what}.{'create' if instance is None else 'edit'}")
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        if isinstance(form.instance, AlertRule) and not permissions.can(
                request.user, "alerts", form.cleaned_data["connection"],
                form.cleaned_data["queue_pattern"]):
            form.add_error("queue_pattern", _("You may not manage alerts of these queues."))
        else:
            created = instance is None
            if isinstance(form.instance, AlertRule):
                # Whoever saves the rule owns it: the queues it covers are bounded by what
                # that person may view (checked again on every evaluation).
                form.instance.owner = cast(Any, request.user)
                form.instance.coverage = ""
            else:
                # Deliveries through it are withheld from queues this person may not view
                # (delivery.py): a webhook cannot carry alerts past its last editor.
                form.instance.changed_by = cast(Any, request.user)
            saved = form.save()
            detail = (_rule_detail(saved) if isinstance(saved, AlertRule)
                      else f"webhook {saved.pk} {saved.name!r} {saved.url}")
            audit.record(request.user, f"alerts.{what}.{'create' if created else 'edit'}",
                         outcome="ok", detail=detail)
            messages.success(request, _("Saved."))
            return HttpResponseRedirect(url(request, "alerts"), status=303)
    return render_page(request, template, form=form, instance=instance,
                       status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@csrf_protect
@dashboard_view(scoped=False)
def rule_new(request: HttpRequest) -> HttpResponse:
    return _edit(request, AlertRuleForm, None, "rule", "queue_dashboard/alerts/rule_form.html")


@require_http_methods(["GET", "POST"])
@csrf_protect
@dashboard_view(scoped=False)
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _visible_rule(request, pk, "alerts.rule.edit")
    return _edit(request, AlertRuleForm, rule, "rule", "queue_dashboard/alerts/rule_form.html")


@require_http_methods(["GET", "POST"])
@csrf_protect
@dashboard_view(scoped=False)
def webhook_new(request: HttpRequest) -> HttpResponse:
    return _edit(request, WebhookForm, None, "webhook",
                 "queue_dashboard/alerts/webhook_form.html")


@require_http_methods(["GET", "POST"])
@csrf_protect
@dashboard_view(scoped=False)
def webhook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    refused = _refused_webhook(request, webhook, "alerts.webhook.edit")
    if refused is not None:
        return refused
    return _edit(request, WebhookForm, webhook, "webhook",
                 "queue_dashboard/alerts/webhook_form.html")


def _delete(request: HttpRequest, obj: AlertRule | Webhook, what: str) -> HttpResponse:
    _require(request, f"alerts.{what}.delete")
    if request.method == "POST":
        detail = _rule_detail(obj) if isinstance(obj, AlertRule) else f"webhook {obj.name!r}"
        obj.delete()
        audit.record(request.user, f"alerts.{what}.delete", outcome="ok", detail=detail)
        messages.success(request, _("Deleted."))
        return HttpResponseRedirect(url(request, "alerts"), status=303)
    return render_page(request, "queue_dashboard/alerts/delete.html", obj=obj, what=what)


@require_http_methods(["GET", "POST"])
@csrf_protect
@dashboard_view(scoped=False)
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _visible_rule(request, pk, "alerts.rule.delete")
    return _delete(request, rule, "rule")


@require_http_methods(["GET", "POST"])
@csrf_protect
@dashboard_view(scoped=False)
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    refused = _refused_webhook(request, webhook, "alerts.webhook.delete")
    return refused if refused is not None else _delete(request, webhook, "webhook")
