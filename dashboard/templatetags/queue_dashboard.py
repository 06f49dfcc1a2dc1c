"""``{% load queue_dashboard %}``: URLs inside whichever namespace served the page."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def dash_url(context: template.Context, name: str, *args: Any) -> str:
    """Like ``{% url %}``, in the namespace of the current mount (include or admin)."""
    namespace = context.get("dashboard_ns") or "queue_dashboard"
    return reverse(f"{namespace}:{name}", args=[str(a) for a in args])


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    try:
        return mapping[key]
    except (KeyError, TypeError, IndexError):
        return None


@register.filter
def state_label(state: str) -> str:
    return state.replace("-", " ")
