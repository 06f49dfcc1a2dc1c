from __future__ import annotations

from django.apps import AppConfig


class HostDashboardConfig(AppConfig):
    """The host project's own app, labelled "dashboard" like ours would be by default."""

    name = "tests.dashboard.example_project.hostdash"
    label = "dashboard"
