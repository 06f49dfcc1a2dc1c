"""The alert pages' URL patterns, mounted by ``dashboard.urls`` (and so also by the admin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, path

from dashboard.alerts import rule_views, views


def patterns(w: Callable[[Callable[..., Any]], Callable[..., Any]]) -> list[URLPattern]:
    return [
        path("alerts/", w(views.index), name="alerts"),
        path("alerts/active/", w(views.active_fragment), name="alerts-active"),
        path("alerts/banner/", w(views.banner), name="alerts-banner"),
        path("alerts/<int:pk>/", w(views.detail), name="alert"),
        path("alerts/<int:pk>/acknowledge/", w(views.acknowledge), name="alert-acknowledge"),
        path("alerts/<int:pk>/silence/", w(views.silence), name="alert-silence"),
        path("alerts/rules/new/", w(rule_views.rule_new), name="alert-rule-new"),
        path("alerts/rules/<int:pk>/", w(rule_views.rule_edit), name="alert-rule-edit"),
        path("alerts/rules/<int:pk>/delete/", w(rule_views.rule_delete),
             name="alert-rule-delete"),
        path("alerts/webhooks/new/", w(rule_views.webhook_new), name="alert-webhook-new"),
        path("alerts/webhooks/<int:pk>/", w(rule_views.webhook_edit), name="alert-webhook-edit"),
        path("alerts/webhooks/<int:pk>/delete/", w(rule_views.webhook_delete),
             name="alert-webhook-delete"),
    ]
