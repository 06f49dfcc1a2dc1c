"""Checks of option values, one wording for one kind of mistake, for every layer.

``bool`` is refused where a number is expected: ``True`` is an ``int`` to Python, but
``concurrency=True`` is a mistake, not a concurrency of 1.
"""

from __future__ import annotations

from .errors import InvalidOptionsError


def int_at_least(name: str, value: int, low: int) -> int:
    """``value`` when it is an integer >= ``low``, else ``InvalidOptionsError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidOptionsError(f"{name} must be an integer >= {low}")
    return value


def int_between(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` when it is an integer in ``[low, high]`` (no upper bound without ``high``);
    the error names the value given (job options, schedules)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOptionsError(f"{name} must be an integer, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InvalidOptionsError(f"{name} must be {bound}, got {value}")
    return value


def optional_int_between(name: str, value: object, low: int,
                         high: int | None = None) -> int | None:
    """None, or ``int_between``."""
    return None if value is None else int_between(name, value, low, high)


def positive_int(name: str, value: int) -> int:
    """``value`` when it is an integer >= 1."""
    return int_at_least(name, value, 1)


def non_negative_int(name: str, value: int) -> int:
    """``value`` when it is an integer >= 0."""
    return int_at_least(name, value, 0)


def optional_positive_int(name: str, value: int | None) -> int | None:
    """``value`` when it is None or an integer >= 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOptionsError(f"{name} must be None or an integer >= 1")
    return value


def _number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidOptionsError(f"{name} must be a number")
    return value


def positive_number(name: str, value: float) -> float:
    """``value`` (int or float, unchanged) when it is > 0."""
    if _number(name, value) <= 0:
        raise InvalidOptionsError(f"{name} must be > 0")
    return value


def non_negative_number(name: str, value: float) -> float:
    """``value`` (int or float, unchanged) when it is >= 0."""
    if _number(name, value) < 0:
        raise InvalidOptionsError(f"{name} must be >= 0")
    return value
