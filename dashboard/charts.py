"""History charts' math and geometry (pure: no Django, no Redis).

Series are per slot (a minute for the 1 h range, an hour for 24 h and 7 d), oldest first.
Charts are drawn server-side as inline SVG from the shapes built here: bars for counts,
lines with points for percentiles; axes carry times (UTC) and values. Templates only place
these numbers; a table of the same figures sits behind each chart for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dashboard.formatting import format_duration

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
#: ``?range=`` values: (slot count, timings resolution, slot width ms). The first is default.
RANGES: dict[str, tuple[int, str, int]] = {
    "1h": (60, "m", MINUTE_MS),
    "24h": (24, "h", HOUR_MS),
    "7d": (168, "h", HOUR_MS),
}
PERCENTILES = (50, 95, 99)
#: The drawing area (SVG user units; the SVG scales to its box).
WIDTH = 480
HEIGHT = 180
LEFT = 50
RIGHT = 8
TOP = 8
BOTTOM = 24


def parse_range(raw: str | None) -> str:
    return raw if raw in RANGES else "1h"


def slot_starts(now_ms: int, range_key: str) -> list[int]:
    count, _, width = RANGES[range_key]
    last = now_ms // width * width
    return [last - (count - 1 - i) * width for i in range(count)]


def nearest_rank(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of exact values, or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * p / 100)) - 1]


def regroup(per_minute: Sequence[int], width_minutes: int) -> list[int]:
    """Sums of consecutive runs of ``width_minutes`` minutes (oldest first)."""
    return [sum(per_minute[i:i + width_minutes])
            for i in range(0, len(per_minute), width_minutes)]


def nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover


def time_label(ms: int, range_key: str) -> str:
    at = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if range_key == "7d":
        return at.strftime("%a %d %H:%M")
    return at.strftime("%H:%M")


def tick_label(ms: int, range_key: str) -> str:
    """Shorter than ``time_label`` where the axis is crowded (7 d: the day only)."""
    if range_key == "7d":
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%a %d")
    return time_label(ms, range_key)


def count_label(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"


def ms_label(value: float | None) -> str:
    if value is None:
        return ""
    if value == 0:
        return "0"
    if value < 1000:
        return f"{value:.0f}ms" if value >= 10 else f"{value:.1f}ms"
    return format_duration(value)


@dataclass(frozen=True, slots=True)
class Tick:
    position: float  # x for a time tick, y for a value tick
    label: str


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str  # the slot's time


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    value: float
    label: str


@dataclass(frozen=True, slots=True)
class Line:
    name: str  # "p50", "p95", "p99"
    path: str  # SVG path data (gaps where a slot has no value)
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class Frame:
    """What every chart shares: axes and tick labels."""

    width: int
    height: int
    left: int
    bottom_y: int
    right_x: int
    top: int
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]


def _x(index: int, count: int) -> float:
    inner = WIDTH - LEFT - RIGHT
    return LEFT + inner * index / count


def _frame(starts: Sequence[int], range_key: str, top_value: float,
           value_label: Callable[[float], str] = count_label) -> Frame:
    count = len(starts)
    step = {"1h": 10, "24h": 4, "7d": 24}[range_key]
    x_ticks = tuple(Tick(round(_x(i, count), 1), tick_label(starts[i], range_key))
                    for i in range(0, count, step))
    inner = HEIGHT - TOP - BOTTOM
    y_ticks = tuple(Tick(round(TOP + inner * (1 - f), 1), value_label(top_value * f))
                    for f in (0, 0.5, 1))
    return Frame(WIDTH, HEIGHT, LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, TOP, x_ticks, y_ticks)


@dataclass(frozen=True, slots=True)
class BarChart:
    frame: Frame
    bars: tuple[Bar, ...]  # one per slot with a count above zero
    total: int
    peak: int


def bar_chart(starts: Sequence[int], values: Sequence[int], range_key: str) -> BarChart:
    count = len(starts)
    peak = max(values, default=0)
    top = nice_max(peak)
    inner = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(1, count)
    gap = min(2.0, slot * 0.2)
    bars = []
    for i, (start, value) in enumerate(zip(starts, values, strict=True)):
        if value <= 0:
            continue
        height = max(1.0, inner * value / top)
        bars.append(Bar(x=round(_x(i, count) + gap / 2, 2), y=round(HEIGHT - BOTTOM - height, 2),
                        width=round(slot - gap, 2), height=round(height, 2), value=value,
                        label=time_label(start, range_key)))
    return BarChart(_frame(starts, range_key, top), tuple(bars), sum(values), peak)


@dataclass(frozen=True, slots=True)
class LineChart:
    frame: Frame
    lines: tuple[Line, ...]
    points: int  # points drawn, all lines


def line_chart(starts: Sequence[int], series: Mapping[str, Sequence[float | None]],
               range_key: str) -> LineChart:
    count = len(starts)
    peak = max((v for values in series.values() for v in values if v is not None), default=0)
    top = nice_max(peak)
    inner = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(1, count)
    lines = []
    drawn = 0
    for name, values in series.items():
        points = []
        path: list[str] = []
        pen_up = True
        for i, value in enumerate(values):
            if value is None:
                pen_up = True
                continue
            x = round(_x(i, count) + slot / 2, 2)
            y = round(HEIGHT - BOTTOM - inner * value / top, 2)
            path.append(f"{'M' if pen_up else 'L'}{x} {y}")
            pen_up = False
            points.append(Point(x, y, value, time_label(starts[i], range_key)))
        drawn += len(points)
        lines.append(Line(name, " ".join(path), tuple(points)))
    return LineChart(_frame(starts, range_key, top, value_label=ms_label), tuple(lines), drawn)
