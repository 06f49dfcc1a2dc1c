"""When a job scheduler runs next: pure functions, no I/O.

A schedule is ``every`` (milliseconds) or a cron ``pattern`` (5 fields, or 6 with a leading
seconds field, as BullMQ's cron-parser reads it), evaluated in an IANA time zone (UTC when
none is given), bounded by ``start_date``, ``end_date`` and ``limit``.

``every``: the runs are ``k * every + offset``. Without an explicit offset the first run is
right away (or at ``start_date``) and the offset is what that time leaves over, as BullMQ 6
does; with one, the first run is the next such slot after now.

Cron and daylight saving time: croniter walks the wall clock; the wall times are turned into
instants here. A wall time skipped by a spring-forward jump runs at the same distance after
the jump (02:30 -> 03:30, as cron-parser does). A wall time that happens twice at a
fall-back runs once, at its first occurrence, unless the pattern fires every hour (hour
field ``*``), which keeps running through both hours so that its rhythm in real time holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

from ..base.errors import InvalidOptionsError
from ..base.validation import optional_int_between

ALIASES = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                     "@hourly"})
_SEARCH_WINDOW = timedelta(hours=3)
# Instants are compared in whole milliseconds.
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A validated schedule. Times are milliseconds since the epoch."""

    every: int | None = None
    pattern: str | None = None
    tz: str | None = None
    start_date: int | None = None
    end_date: int | None = None
    limit: int | None = None
    offset: int | None = None
    immediately: bool = False

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.tz) if self.tz else UTC


# -- validation -------------------------------------------------------------------------------


def _ms(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidOptionsError(f"{name} must be a timezone-aware datetime")
        return math.floor(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionsError(f"{name} must be an aware datetime or epoch milliseconds")
    if value < 0:
        raise InvalidOptionsError(f"{name} must be >= 0, got {value}")
    return value


def check_pattern(pattern: object) -> str:
    """The pattern, or InvalidOptionsError: 5 fields, 6 with leading seconds, or an alias."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise InvalidOptionsError("pattern must be a non-empty cron expression")
    text = " ".join(pattern.split())
    fields = text.split(" ")
    if not (text.lower() in ALIASES or len(fields) in (5, 6)):
        raise InvalidOptionsError(
            f"cron pattern {pattern!r} needs 5 fields, or 6 with seconds first")
    try:
        croniter(text, datetime(2000, 1, 1), second_at_beginning=len(fields) == 6)
    except (CroniterError, ValueError, KeyError, IndexError) as exc:
        raise InvalidOptionsError(f"bad cron pattern {pattern!r}: {exc}") from exc
    return pattern


def check_tz(tz: object) -> str | None:
    if tz is None:
        return None
    if not isinstance(tz, str) or not tz:
        raise InvalidOptionsError("tz must be an IANA time zone name such as 'Europe/Berlin'")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidOptionsError(f"unknown time zone {tz!r}") from exc
    return tz


def make_schedule(*, every: object = None, pattern: object = None, tz: object = None,
                  start_date: object = None, end_date: object = None, limit: object = None,
                  offset: object = None, immediately: object = False) -> Schedule:
    """Validate the repeat options; every mistake is an InvalidOptionsError."""
    if every is not None and pattern is not None:
        raise InvalidOptionsError("give every or pattern, not both")
    if every is None and pattern is None:
        raise InvalidOptionsError("a job scheduler needs every (ms) or a cron pattern")
    if not isinstance(immediately, bool):
        raise InvalidOptionsError("immediately must be True or False")
    start = _ms("start_date", start_date)
    end = _ms("end_date", end_date)
    if start is not None and end is not None and end <= start:
        raise InvalidOptionsError("end_date must be after start_date")
    if immediately and start is not None:
        raise InvalidOptionsError("give immediately or start_date, not both")
    if every is not None:
        every_ms = optional_int_between("every", every, 1)
        off = optional_int_between("offset", offset, 0)
        if off is not None and every_ms is not None and off >= every_ms:
            raise InvalidOptionsError("offset must be smaller than every")
        return Schedule(every=every_ms, tz=check_tz(tz), start_date=start, end_date=end,
                        limit=optional_int_between("limit", limit, 1), offset=off,
                        immediately=immediately)
    if offset is not None:
        raise InvalidOptionsError("offset only applies to every")
    return Schedule(pattern=check_pattern(pattern), tz=check_tz(tz), start_date=start,
                    end_date=end, limit=optional_int_between("limit", limit, 1),
                    immediately=immediately)


# -- cron -------------------------------------------------------------------------------------


def _to_ms(dt: datetime) -> int:
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // _MS


def _instants(naive: datetime, zone: tzinfo, all_hours: bool) -> list[int]:
    """The instants (ms) at which the wall time ``naive`` fires in ``zone``."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    off0, off1 = first.utcoffset(), second.utcoffset()
    if off0 == off1 or off0 is None or off1 is None:
        return [_to_ms(first)]
    if off0 < off1:
        # Skipped by a jump forward: fold=0 reads it with the offset from before the jump,
        # which lands the same distance after the jump.
        return [_to_ms(first)]
    # Happens twice: the first occurrence, and the second too for every-hour patterns.
    return [_to_ms(first), _to_ms(second)] if all_hours else [_to_ms(first)]


class _WallClock:
    """croniter over naive wall-clock datetimes (no zone: no DST guesses of its own)."""

    def __init__(self, expr: str, start: datetime) -> None:
        self._it = croniter(expr, start, second_at_beginning=len(expr.split()) == 6)

    def get_next(self) -> datetime:
        return self._it.get_next(datetime)


def _iter(expr: str, start: datetime) -> _WallClock:
    return _WallClock(expr, start)


def _fires_every_hour(expr: str) -> bool:
    fields = expr.split()
    if len(fields) < 5:
        return expr.lower() == "@hourly"
    hour = fields[2] if len(fields) == 6 else fields[1]
    return hour in ("*", "*/1", "0-23", "?")


def _offset_ms(zone: tzinfo, at_ms: int) -> int:
    off = datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(zone).utcoffset()
    return 0 if off is None else off // _MS


def cron_next(pattern: str, tz: str | None, after_ms: int) -> int | None:
    """The first instant strictly after ``after_ms`` at which ``pattern`` fires in ``tz``."""
    expr = " ".join(pattern.split())
    zone: tzinfo = ZoneInfo(tz) if tz else UTC
    all_hours = _fires_every_hour(expr)
    local = datetime.fromtimestamp(after_ms / 1000, UTC).astimezone(zone).replace(tzinfo=None)
    window_ms = _SEARCH_WINDOW // _MS
    try:
        it = _iter(expr, local)
        first = min((i for i in _instants(it.get_next(), zone, all_hours) if i > after_ms),
                    default=None)
        offsets = {_offset_ms(zone, after_ms - window_ms), _offset_ms(zone, after_ms + window_ms)}
        if first is not None:
            offsets |= {_offset_ms(zone, first - window_ms), _offset_ms(zone, first + window_ms)}
        if first is not None and len(offsets) == 1:
            return first  # no clock change anywhere near: the wall clock is the real clock
        # Near a clock change, wall order and real order can differ: look at every wall time
        # from a little before `after` and keep the earliest instant after it.
        spread = timedelta(milliseconds=max(offsets) - min(offsets)) + timedelta(minutes=1)
        it = _iter(expr, local - spread)
        best: int | None = None
        while True:
            naive = it.get_next()
            if best is not None and naive > _wall(best, zone) + spread:
                return best
            for instant in _instants(naive, zone, all_hours):
                if instant > after_ms and (best is None or instant < best):
                    best = instant
    except (CroniterBadDateError, OverflowError):
        return None
    except CroniterBadCronError as exc:
        raise InvalidOptionsError(f"bad cron pattern {pattern!r}: {exc}") from exc


def _wall(at_ms: int, zone: tzinfo) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(zone).replace(tzinfo=None)


# -- every ------------------------------------------------------------------------------------


def every_offset(schedule: Schedule, first_ms: int) -> int:
    """The offset stored for an ``every`` schedule whose first run is ``first_ms``."""
    assert schedule.every is not None
    if schedule.offset is not None:
        return schedule.offset
    return first_ms % schedule.every


def _every_after(every: int, offset: int, after_ms: int) -> int:
    """The first slot k * every + offset strictly after ``after_ms``."""
    slot = (after_ms // every) * every + offset
    while slot <= after_ms:
        slot += every
    return slot


# -- the runs ---------------------------------------------------------------------------------


def _within(schedule: Schedule, at_ms: int | None) -> int | None:
    if at_ms is None:
        return None
    if schedule.end_date is not None and at_ms > schedule.end_date:
        return None
    return at_ms


def first_run(schedule: Schedule, now_ms: int) -> int | None:
    """When a new scheduler runs first (never before ``now_ms``), or None past end_date."""
    start = schedule.start_date
    if schedule.every is not None:
        if schedule.offset is None:
            at = max(start, now_ms) if start is not None else now_ms
        else:
            base = max(now_ms, start - 1) if start is not None else now_ms
            at = _every_after(schedule.every, schedule.offset, base)
        return _within(schedule, at)
    assert schedule.pattern is not None
    if schedule.immediately:
        return _within(schedule, now_ms)
    after = max(now_ms, start - 1) if start is not None else now_ms
    return _within(schedule, cron_next(schedule.pattern, schedule.tz, after))


def next_run(schedule: Schedule, prev_ms: int, now_ms: int,
             offset: int | None = None) -> int | None:
    """The run after the one at ``prev_ms``: later than it and not before ``now_ms`` (missed
    runs are skipped, not caught up), or None past end_date. ``offset`` is the stored offset of
    an ``every`` schedule."""
    if schedule.every is not None:
        off = offset if offset is not None else (
            schedule.offset if schedule.offset is not None else prev_ms % schedule.every)
        at = prev_ms + schedule.every
        if at < now_ms:
            at = _every_after(schedule.every, off, now_ms)
        return _within(schedule, at)
    assert schedule.pattern is not None
    after = max(prev_ms, now_ms)
    if schedule.start_date is not None:
        after = max(after, schedule.start_date - 1)
    return _within(schedule, cron_next(schedule.pattern, schedule.tz, after))
