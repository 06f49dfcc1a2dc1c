"""What a live page says it shows (validated here) and what its socket last sent it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dashboard import conf
from dashboard.live.feeds import Key
from dashboard.pagination import parse_int
from dashboard.services.common import STATES


@dataclass(slots=True)
class ListView:
    """Which page of which list a queue page shows (sent by the page, validated here)."""

    state: str = "waiting"
    page: int = 1
    size: int = 25
    asc: bool = False

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ListView:
        settings = conf.get_settings()
        state = str(data.get("state", "waiting"))
        return cls(
            state=state if state in STATES else "waiting",
            page=parse_int(_str(data.get("page")), 1),
            size=parse_int(_str(data.get("size")), settings.page_size,
                           upper=settings.max_page_size),
            asc=data.get("order") == "oldest",
        )


@dataclass(slots=True)
class LogView:
    known: int = 0  # log lines the page holds
    tail: bool = True  # the page shows the last lines, so new ones are appended

    @classmethod
    def parse(cls, data: dict[str, Any]) -> LogView:
        return cls(known=parse_int(_str(data.get("logs_total")), 0, lower=0),
                   tail=data.get("logs_tail", "1") == "1")


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(slots=True)
class Toast:
    text: str
    level: str = "info"
    href: str = ""


@dataclass(slots=True)
class Shown:
    """What the page shows now, to send only what differs."""

    counts: dict[Key, dict[str, int]] = field(default_factory=dict)
    paused: dict[Key, bool] = field(default_factory=dict)
    ids: frozenset[str] = frozenset()
    rows_key: Any = None
