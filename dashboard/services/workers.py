"""The workers page: every worker connected to the visible queues of a connection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dashboard import connections
from dashboard.formatting import format_duration


@dataclass(frozen=True, slots=True)
class WorkerRow:
    queue: str
    name: str
    addr: str
    age: str
    idle: str


def workers(connection: str, names: Iterable[str]) -> list[WorkerRow]:
    rows = []
    for name in names:
        for info in connections.get_queue(connection, name).get_workers():
            rows.append(
                WorkerRow(
                    queue=name,
                    name=info.get("name", ""),
                    addr=info.get("addr", ""),
                    age=format_duration(_seconds_ms(info.get("age"))),
                    idle=format_duration(_seconds_ms(info.get("idle"))),
                )
            )
    return rows


def _seconds_ms(raw: str | None) -> int | None:
    """CLIENT LIST's seconds as ms; None when the field is missing or not a number."""
    if raw is None:
        return None
    try:
        return int(raw) * 1000
    except ValueError:
        return None
