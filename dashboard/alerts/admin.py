"""The alert models in Django's admin: read-only lists (with filters and search) for looking
things up. Changes go through the dashboard's alert pages, which check the per-queue
permissions, make the saver a rule's owner and write the audit log: an admin form would skip
all three, so there is none (no add, change or delete here). Rows about queues the user may
not view are left out, as on the dashboard's pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dashboard import permissions
from dashboard.alerts.models import (
    AlertDelivery,
    AlertEvent,
    AlertRule,
    AlertState,
    DeliveryAttempt,
    Webhook,
)

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Any]
    TabularInline = admin.TabularInline[Any, Any]
else:  # generic only in django-stubs
    ModelAdmin = admin.ModelAdmin
    TabularInline = admin.TabularInline


def _hidden_states(request: HttpRequest) -> list[int]:
    """Alerts on queues the user may not view (usually few: excluded rather than listed)."""
    user = request.user
    if user.is_superuser:
        return []
    rows = AlertState.objects.values_list("pk", "connection", "queue")
    return [pk for pk, conn, queue in rows if not permissions.can(user, "view", conn, queue)]


class _ReadOnly(ModelAdmin):
    #: The dashboard action whose permission lets a user look at these rows.
    action = "view"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return permissions.can(request.user, self.action)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None
                            ) -> list[str]:
        # Every field shown as text: the page builds no form field (nor its warnings).
        hidden = set(self.exclude or ())
        fields = [*self.model._meta.fields, *self.model._meta.many_to_many]
        return [f.name for f in fields if f.name not in hidden]

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return permissions.can(request.user, self.action)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AlertRule)
class AlertRuleAdmin(_ReadOnly):
    list_display = ("name", "connection", "queue_pattern", "kind", "threshold", "enabled",
                    "owner", "coverage", "updated_at")
    list_filter = ("enabled", "kind", "coverage", "connection")
    search_fields = ("name", "queue_pattern")
    list_select_related = ("owner",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rules = super().get_queryset(request)
        if request.user.is_superuser:
            return rules
        hidden = [pk for pk, conn, pattern in rules.values_list("pk", "connection",
                                                                 "queue_pattern")
                  if not permissions.can(request.user, "view", conn, pattern)]
        return rules.exclude(pk__in=hidden)


@admin.register(AlertState)
class AlertStateAdmin(_ReadOnly):
    list_display = ("rule", "connection", "queue", "status", "value", "fired_at",
                    "acknowledged_by", "silenced_until", "evaluated_at", "has_error")
    list_filter = ("status", "connection")
    search_fields = ("queue", "rule__name")
    list_select_related = ("rule",)

    @admin.display(boolean=True, description=_("unknown"))
    def has_error(self, state: AlertState) -> bool:
        return bool(state.error)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).exclude(pk__in=_hidden_states(request))


@admin.register(AlertEvent)
class AlertEventAdmin(_ReadOnly):
    list_display = ("created_at", "kind", "state", "generation", "value", "username")
    list_filter = ("kind",)
    search_fields = ("state__queue", "state__rule__name", "username")
    date_hierarchy = "created_at"
    list_select_related = ("state__rule",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).exclude(state_id__in=_hidden_states(request))


class _AttemptInline(TabularInline):
    model = DeliveryAttempt
    fields = ("created_at", "ok", "status_code", "duration_ms", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(_ReadOnly):
    list_display = ("pk", "event", "channel", "status", "attempts", "next_attempt_at",
                    "last_error")
    list_filter = ("status", "channel")
    list_select_related = ("event__state__rule",)
    inlines = (_AttemptInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).exclude(
            event__state_id__in=_hidden_states(request))


@admin.register(Webhook)
class WebhookAdmin(_ReadOnly):
    action = "alerts"  # as on the alerts page: webhooks are shown to those who manage alerts
    list_display = ("name", "url", "format", "enabled", "signed")
    list_filter = ("format", "enabled")
    search_fields = ("name",)
    #: The signing secret is write-only everywhere: never shown.
    exclude = ("secret",)

    @admin.display(boolean=True, description=_("signed"))
    def signed(self, webhook: Webhook) -> bool:
        return bool(webhook.secret)
