"""Pure backoff math (BullMQ's formulas)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BackoffStrategy = Callable[[int, str, BaseException | None, Any], "int | float | None"]
"""A custom strategy: ``(attempts_made, type, error, job) -> delay ms``; None or < 0 = no retry."""


@dataclass(frozen=True, slots=True)
class Backoff:
    type: str  # "fixed", "exponential" or the name of a custom strategy
    delay: int = 0
    jitter: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "delay": self.delay}
        if self.jitter:
            out["jitter"] = self.jitter
        return out


def parse_backoff(value: Any) -> Backoff | None:
    """Accept a number (fixed ms), a dict ``{type, delay, jitter}`` or a Backoff."""
    if value is None:
        return None
    if isinstance(value, Backoff):
        b = value
    elif isinstance(value, bool):
        raise ValueError("backoff must be a number of ms or {'type': ..., 'delay': ...}")
    elif isinstance(value, int | float):
        b = Backoff("fixed", int(value))
    elif isinstance(value, dict):
        unknown = set(value) - {"type", "delay", "jitter"}
        if unknown:
            raise ValueError(f"unknown backoff keys: {sorted(unknown)}")
        b = Backoff(str(value.get("type", "fixed")), int(value.get("delay", 0) or 0),
                    float(value.get("jitter", 0) or 0))
    else:
        raise ValueError("backoff must be a number of ms or {'type': ..., 'delay': ...}")
    if b.delay < 0:
        raise ValueError("backoff delay must be >= 0")
    if not 0 <= b.jitter <= 1:
        raise ValueError("backoff jitter must be between 0 and 1")
    if not b.type:
        raise ValueError("backoff type must be a non-empty string")
    return b


def compute_backoff(
    backoff: Backoff | int | float | dict[str, Any] | None,
    attempts_made: int,
    *,
    error: BaseException | None = None,
    job: Any = None,
    strategy: BackoffStrategy | None = None,
    rand: Callable[[], float] = random.random,
) -> int | None:
    """Delay in ms before the next attempt; ``attempts_made`` counts the attempt that just failed.

    ``backoff`` is what the ``backoff=`` job option accepts: a number (fixed ms), a dict
    ``{type, delay, jitter}`` or a ``Backoff`` (a wrong one raises ``ValueError``).
    None means "do not retry" (a custom strategy said so).
    """
    if not isinstance(backoff, Backoff):
        backoff = parse_backoff(backoff)
    if backoff is None:
        return 0
    if backoff.type == "fixed":
        base = float(backoff.delay)
    elif backoff.type == "exponential":
        base = float(round(2 ** (attempts_made - 1) * backoff.delay))
    else:
        if strategy is None:
            raise ValueError(
                f"backoff type {backoff.type!r} needs a backoff_strategy on the worker")
        custom = strategy(attempts_made, backoff.type, error, job)
        if custom is None or custom < 0:
            return None
        return int(custom)
    if backoff.jitter:
        low = base * (1 - backoff.jitter)
        return int(low + rand() * (base - low))
    return int(base)
