"""Admin integration without tables (as django-rq): an entry in the admin index that opens
the dashboard in admin's look, plus the read-only audit log."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern, URLResolver, include, path

from dashboard import permissions
from dashboard.alerts import admin as _alerts_admin  # noqa: F401 (registers the alert models)
from dashboard.models import AuditLog, QueueDashboard
from dashboard.views.context import ADMIN_SITE_ATTR

if TYPE_CHECKING:
    DashboardModelAdmin = admin.ModelAdmin[QueueDashboard]
    AuditLogModelAdmin = admin.ModelAdmin[AuditLog]
else:  # ModelAdmin is generic only in django-stubs: at run time it cannot be subscripted
    DashboardModelAdmin = AuditLogModelAdmin = admin.ModelAdmin


@admin.register(QueueDashboard)
class QueueDashboardAdmin(DashboardModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return permissions.can(request.user, "view")

    def has_view_permission(self, request: HttpRequest, obj: QueueDashboard | None = None) -> bool:
        return permissions.can(request.user, "view")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: QueueDashboard | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: QueueDashboard | None = None
    ) -> bool:
        return False

    def _wrap(self, view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        site = self.admin_site

        @wraps(view)
        def in_admin(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            setattr(request, ADMIN_SITE_ATTR, site)
            return view(request, *args, **kwargs)

        return site.admin_view(in_admin)

    # django-stubs narrows ModelAdmin.get_urls to list[URLPattern]; Django itself returns
    # resolvers too (its own ModelAdmin includes), as this mount's include() does.
    def get_urls(self) -> list[URLPattern | URLResolver]:  # type: ignore[override]
        from dashboard.urls import build_urlpatterns

        opts = self.model._meta
        patterns = build_urlpatterns(wrap=self._wrap)
        overview = patterns[0].callback
        return [
            path("", include((patterns, "queue_dashboard"), namespace="queue_dashboard_admin")),
            # Never resolved (the include answers first); reversed by the admin index.
            path("", overview, name=f"{opts.app_label}_{opts.model_name}_changelist"),
        ]


@admin.register(AuditLog)
class AuditLogAdmin(AuditLogModelAdmin):
    list_display = ("created_at", "username", "action", "connection", "queue", "count", "outcome")
    list_filter = ("outcome", "action", "connection")
    search_fields = ("username", "queue", "action", "detail")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "user",
        "username",
        "action",
        "connection",
        "queue",
        "job_ids",
        "count",
        "outcome",
        "detail",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False
