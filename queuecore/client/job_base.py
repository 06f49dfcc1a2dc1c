"""What ``Job`` and ``AsyncJob`` share: checking what they write, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..base.errors import DataError, InvalidOptionsError
from ..base.jsonutil import dumps_data, is_finite_number

ProgressListener = Callable[[Any], None]


def progress_json(value: Any, max_size: int | None) -> str:
    if isinstance(value, bool) or not (is_finite_number(value) or isinstance(value, dict | list
                                                                            | str)):
        raise InvalidOptionsError("progress must be a number, a string, a list or a dict")
    return dumps_data(value, max_size, what="progress")


def log_line(line: Any, max_size: int | None) -> str:
    """A log line as stored, refused before any write when over the queue's
    ``max_data_size`` (UTF-8 bytes), like job data."""
    text = str(line)
    if max_size is not None and len(text) * 4 > max_size:
        size = len(text.encode("utf-8"))
        if size > max_size:
            raise DataError(f"log line is {size} bytes, over the limit of {max_size}")
    return text
