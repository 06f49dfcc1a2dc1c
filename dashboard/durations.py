"""Compact, translated durations for the job lists and the job page: ``850 ms``, ``3.2 s``,
``4 min 10 s``, ``2 h 5 min``, ``3 d 4 h``. The two largest units only: an operator reads a
wait of "2 h 5 min" at a glance, the seconds in it are noise."""

from __future__ import annotations

from django.utils.formats import number_format
from django.utils.translation import gettext

#: A no-break space between a number and its unit, so that "4 min" never wraps apart.
NBSP = "\u00a0"


def compact_duration(ms: int | float | None) -> str:
    """``""`` when unknown (None, a bool, or a negative span from clock skew)."""
    if ms is None or isinstance(ms, bool) or ms < 0:
        return ""
    ms = int(ms)
    if ms < 1000:
        return gettext("%(n)s ms") % {"n": ms}
    if ms < 10_000:
        # One decimal under ten seconds (in the viewer's locale: "3,2 s" in German).
        return gettext("%(n)s s") % {"n": number_format(int(ms / 100) / 10, 1)}
    seconds = ms // 1000
    if seconds < 60:
        return gettext("%(n)s s") % {"n": seconds}
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return _pair(gettext("%(n)s min") % {"n": minutes}, sec and gettext("%(n)s s") % {"n": sec})
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _pair(gettext("%(n)s h") % {"n": hours},
                     minutes and gettext("%(n)s min") % {"n": minutes})
    days, hours = divmod(hours, 24)
    return _pair(gettext("%(n)s d") % {"n": days}, hours and gettext("%(n)s h") % {"n": hours})


def _pair(first: str, second: str | int) -> str:
    text = f"{first} {second}" if second else first
    return text.replace(" ", NBSP)


def span(start_ms: int | None, end_ms: int | None) -> int | None:
    """``end - start`` in ms when both are known and in order, else None."""
    if not start_ms or not end_ms or end_ms < start_ms:
        return None
    return end_ms - start_ms
