"""The standalone header's links: the user, logout, the audit log and admin, each only when
the project has it and the user may use it."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True, slots=True)
class Chrome:
    logout_url: str = ""
    admin_url: str = ""
    audit_url: str = ""


def _reverse(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def chrome(request: HttpRequest) -> Chrome:
    user = request.user
    if not user.is_authenticated:
        return Chrome()
    # The project's own logout (django.contrib.auth.urls) first, else admin's; both take a POST.
    logout = _reverse("logout") or _reverse("admin:logout")
    admin_url = audit_url = ""
    if apps.is_installed("django.contrib.admin") and user.is_staff:
        admin_url = _reverse("admin:index")
        if user.has_perm("queue_dashboard.view_auditlog"):
            audit_url = _reverse("admin:queue_dashboard_auditlog_changelist")
    return Chrome(logout_url=logout, admin_url=admin_url, audit_url=audit_url)
