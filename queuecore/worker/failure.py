"""What happens after a failed attempt: now in ``commands.failure`` (a ``Job`` moved to
failed by hand decides the same way); kept here for the worker's imports."""

from __future__ import annotations

from ..commands.failure import FailurePlan, error_reason, plan_failure, stacktrace_json

__all__ = ["FailurePlan", "error_reason", "plan_failure", "stacktrace_json"]
