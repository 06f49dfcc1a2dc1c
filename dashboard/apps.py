from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QueueDashboardConfig(AppConfig):
    """The app label is namespaced so a host project may have its own ``dashboard`` app."""

    name = "dashboard"
    label = "queue_dashboard"
    verbose_name = _("Queues")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks as django_checks

        from dashboard import checks, conf
        from dashboard.live import notify

        conf.connect_signals()
        notify.connect_signals()
        for check in checks.ALL:
            django_checks.register(check, "queue_dashboard")
