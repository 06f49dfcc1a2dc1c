"""Page arithmetic for bounded ranges (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    size: int
    total: int

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def start(self) -> int:
        return (self.number - 1) * self.size

    @property
    def end(self) -> int:
        """Inclusive end index, as LRANGE/ZRANGE take it."""
        return self.start + self.size - 1

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def next_number(self) -> int:
        return self.number + 1


def parse_int(raw: str | None, default: int, *, lower: int = 1, upper: int | None = None) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        value = default
    value = max(lower, value)
    return min(upper, value) if upper is not None else value


def make_page(raw_page: str | None, size: int, total: int) -> Page:
    """Clamp the requested page number into ``1..num_pages``."""
    last = max(1, -(-total // size))
    return Page(number=parse_int(raw_page, 1, upper=last), size=size, total=total)
