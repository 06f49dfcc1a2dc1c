"""What ``Job`` and ``AsyncJob`` share: checking what they write, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..base.errors import InvalidOptionsError
from ..base.jsonutil import dumps_data, is_finite_number

ProgressListener = Callable[[Any], None]


class JobEvents(Protocol):
    """What ``wait_until_finished`` needs of a ``QueueEvents`` (named here, so that the job's
    layer does not import the events' layer above it)."""

    def job_result(self, job_id: str, timeout: float | None = None) -> Any: ...

    async def ajob_result(self, job_id: str, timeout: float | None = None) -> Any: ...


def progress_json(value: Any, max_size: int | None) -> str:
    if isinstance(value, bool) or not (is_finite_number(value) or isinstance(value, dict | list
                                                                            | str)):
        raise InvalidOptionsError("progress must be a number, a string, a list or a dict")
    return dumps_data(value, max_size, what="progress")
