from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from dashboard.permissions import PERMISSION_NAMES


class QueueDashboard(models.Model):
    """No table: it carries the permissions and the entry in the admin index (as django-rq)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = PERMISSION_NAMES
        verbose_name = _("queue dashboard")
        verbose_name_plural = _("queue dashboard")


class AuditLog(models.Model):
    """One row per action request: who, when, what, on which queue and jobs, and the outcome."""

    class Outcome(models.TextChoices):
        OK = "ok", _("ok")
        ERROR = "error", _("error")
        DENIED = "denied", _("denied")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32)
    connection = models.CharField(max_length=100, blank=True)
    queue = models.CharField(max_length=256, blank=True)
    job_ids = models.JSONField(default=list, blank=True)
    count = models.IntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.queue}"


# The alert models live in their own module; imported here so Django registers them.
from dashboard.alerts.models import (  # noqa: E402
    AlertDelivery,
    AlertEvent,
    AlertRule,
    AlertState,
    DeliveryAttempt,
    EvaluatorLease,
    Webhook,
)

__all__ = [
    "AlertDelivery",
    "AlertEvent",
    "AlertRule",
    "AlertState",
    "AuditLog",
    "DeliveryAttempt",
    "EvaluatorLease",
    "QueueDashboard",
    "Webhook",
]
