"""``{% load qd_look %}``: classes of the design system that depend on a value."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def qd_count(value: Any, state: str = "") -> str:
    """Classes of a count: muted when zero, emphasised when failures are counted.

    The live fragments swap a count's whole element, so they set the same classes."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return "qd-n"
    if number == 0:
        return "qd-n qd-zero"
    if state == "failed":
        return "qd-n qd-has-failed"
    return "qd-n"
