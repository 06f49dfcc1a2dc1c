"""The messages between a ProcessPool and its children: JSON text over a pipe.

parent -> child: ``{"op": "job", "id", "hash", "token"}``, ``{"op": "stop"}``, and while a
job runs ``{"op": "cancel", "id", "reason"}`` (read by the child's reader thread)
child -> parent: ``{"op": "ready", "pid", "async"}`` or ``{"op": "startup-error", "message"}``
once at start; per job ``{"op": "started"}``, then ``{"op": "result", "value", "moved"}`` or
``{"op": "error", "type", "message", "traceback", "kind", "moved"}``.

Errors a processor raises on purpose (``kind``) keep their class across the boundary; any
other becomes a ``RemoteProcessorError`` that carries the child's traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

from ..base.errors import (
    DelayedError,
    JobCancelledError,
    QueueCoreError,
    RateLimitError,
    RemoteProcessorError,
    UnrecoverableError,
    WaitingChildrenError,
)

#: How a child reaches Redis: a URL or plain (picklable) connection options.
PortableConnection = str | dict[str, Any] | None

CONTROL_ERRORS: dict[str, type[QueueCoreError]] = {
    "cancelled": JobCancelledError,  # before its base class, UnrecoverableError
    "unrecoverable": UnrecoverableError,
    "delayed": DelayedError,
    "waiting-children": WaitingChildrenError,
    "rate-limit": RateLimitError,
}


def send(conn: Connection, message: Mapping[str, Any]) -> None:
    conn.send_bytes(json.dumps(message).encode("utf-8"))


def decode(data: bytes) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(data)
    return message


def error_kind(exc: BaseException) -> str | None:
    """The ``kind`` of a control error, None for any other exception."""
    for kind, cls in CONTROL_ERRORS.items():
        if isinstance(exc, cls):
            return kind
    return None


class RemoteTraceback(Exception):
    """Chained as the cause of a remote error so that its formatted traceback shows the
    child's (the way ``concurrent.futures.ProcessPoolExecutor`` does)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text.rstrip()}\n"""'


def job_outcome(reply: Mapping[str, Any], job_id: str) -> Any:
    """The return value in a child's reply to a job, or the error it reports, raised."""
    if reply.get("moved"):
        raise DelayedError(f"job {job_id} was moved by its processor")
    op = reply.get("op")
    if op == "result":
        return json.loads(reply["value"])
    if op != "error":
        raise QueueCoreError(f"unexpected message from a child process: {op!r}")
    remote_type = str(reply.get("type") or "Exception")
    text = str(reply.get("message") or "") or remote_type.rsplit(".", 1)[-1]
    tb = str(reply.get("traceback") or "")
    control = CONTROL_ERRORS.get(str(reply.get("kind")))
    error: QueueCoreError
    if control is not None:
        error = control(text)
    else:
        error = RemoteProcessorError(text, remote_type=remote_type, remote_traceback=tb)
    error.__cause__ = RemoteTraceback(tb)
    raise error
