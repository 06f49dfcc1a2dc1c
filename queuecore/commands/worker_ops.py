"""Pure builders of the operations a worker makes on the jobs it holds."""

from __future__ import annotations

import functools
import json
import re
from typing import Any, TypeVar

from ..base.errors import InvalidOptionsError
from ..base.keys import QueueKeys
from .op import Call, Op, ScriptCall, check, checked, raw, script, single
from .scripts import get_script

T = TypeVar("T")


@functools.lru_cache(maxsize=256)
def _fetch_keys(keys: QueueKeys) -> tuple[str, ...]:
    return (keys.wait, keys.active, keys.prioritized, keys.events, keys.stalled, keys.limiter,
            keys.delayed, keys.paused, keys.meta, keys.pc, keys.marker)


@functools.lru_cache(maxsize=256)
def _finish_keys(keys: QueueKeys, target: str) -> tuple[str, ...]:
    return (*_fetch_keys(keys), keys.key(target), keys.metrics(target))


def move_to_active(keys: QueueKeys, now: int, token: str, lock_ms: int, limiter_max: int,
                   limiter_ms: int, worker_name: str) -> Op[Any]:
    return single(
        script("move_to_active", _fetch_keys(keys),
               [keys.base, now, token, lock_ms, limiter_max, limiter_ms, worker_name]),
        lambda r: r,
    )


def move_to_finished(
    keys: QueueKeys, job_id: str, token: str, now: int, *, completed: bool, value: str,
    stacktrace: str, keep: tuple[int, int, int], max_attempts: int, metrics_points: int,
    fetch_next: bool, next_token: str, lock_ms: int, limiter_max: int, limiter_ms: int,
    worker_name: str, timing_samples: int = 1000,
) -> Op[Any]:
    target = "completed" if completed else "failed"
    return single(
        script("move_to_finished",
               _finish_keys(keys, target),
               [keys.base, job_id, now, token, target, value, stacktrace, keep[0], keep[1],
                keep[2], max_attempts, metrics_points, "1" if fetch_next else "0", lock_ms,
                limiter_max, limiter_ms, worker_name, next_token, timing_samples]),
        checked("move_to_" + target, job_id),
    )


def _reply(replies: list[Any]) -> Any:
    return replies[0]


class FinishCalls:
    """One worker's ``move_to_finished`` ops: the keys, the script and the arguments that are
    the same for every job are built once, so a job's op is one tuple of arguments (no
    per-job closures). The op's reply is the script's own: a negative error code is not
    raised (the worker reports it, see ``Finisher``)."""

    __slots__ = ("_base", "_completed_keys", "_failed_keys", "_metrics_points", "_samples",
                 "_script", "_worker")

    def __init__(self, keys: QueueKeys, *, metrics_points: int, lock_ms: int,
                 limiter_max: int, limiter_ms: int, worker_name: str,
                 timing_samples: int = 1000) -> None:
        self._script = get_script("move_to_finished")
        self._completed_keys = _finish_keys(keys, "completed")
        self._failed_keys = _finish_keys(keys, "failed")
        self._base = keys.base
        self._metrics_points = metrics_points
        self._worker = (lock_ms, limiter_max, limiter_ms, worker_name)
        self._samples = timing_samples

    def op(self, job_id: str, token: str, now: int, completed: bool, value: str, stack: str,
           keep: tuple[int, int, int], max_attempts: int, next_token: str | None) -> Op[Any]:
        """``move_to_finished`` of one job, fetching the next job with ``next_token`` (None:
        no fetch); its arguments as ``move_to_finished`` sends them. Sent again after its
        reply was lost as ``retried(op)`` (the first try's fetch is handed back if it
        ran)."""
        lock_ms, limiter_max, limiter_ms, worker_name = self._worker
        args = (self._base, job_id, now, token, "completed" if completed else "failed", value,
                stack, keep[0], keep[1], keep[2], max_attempts, self._metrics_points,
                "0" if next_token is None else "1", lock_ms, limiter_max, limiter_ms,
                worker_name, next_token or "", self._samples, "0")
        call = ScriptCall(self._script, self._completed_keys if completed
                          else self._failed_keys, args)
        return Op((call,), _reply)


def retried(op: Op[T]) -> Op[T]:
    """A ``FinishCalls.op`` or ``move_to_finished_many`` op sent again after its reply was
    lost: the same call, flagged as a retry (see the scripts: the first try's fetches are
    handed back when it ran)."""
    call = op.calls[0]
    assert isinstance(call, ScriptCall)
    args = call.args
    if call.script.name == "move_to_finished":
        args = (*args[:19], "1")
    else:
        args = (*args[:10], "1", *args[11:])
    return Op((ScriptCall(call.script, call.keys, args),), op.decode)


@functools.lru_cache(maxsize=256)
def _finish_many_keys(keys: QueueKeys) -> tuple[str, ...]:
    return (*_fetch_keys(keys), keys.completed, keys.failed, keys.metrics("completed"),
            keys.metrics("failed"))


#: One job of a batched finish: (job id, lock token, completed?, value, stacktrace JSON,
#: keep (count, age s, limit), max attempts)
Finish = tuple[str, str, bool, str, str, tuple[int, int, int], int]
#: A batched finish's reply: per job 0 or its error code; the fetched jobs (id, hash as a
#: flat field list), None when no fetch was asked; the rate limit ttl and the next delayed
#: job's due time when a fetch found nothing.
FinishManyReply = tuple[list[int], list[tuple[str, Any]] | None, int, int]


def _decode_many(reply: Any) -> FinishManyReply:
    fetched = reply[1]
    return ([int(c) for c in reply[0]],
            [(str(fetched[i + 1]), fetched[i]) for i in range(0, len(fetched), 2)],
            int(reply[2] or 0), int(reply[3] or 0))


def _decode_many_unfetched(reply: Any) -> FinishManyReply:
    return [int(c) for c in reply[0]], None, 0, 0


def move_to_finished_many(
    keys: QueueKeys, finishes: list[Finish], now: int, *, metrics_points: int,
    fetch_tokens: list[str], lock_ms: int, limiter_max: int, limiter_ms: int,
    worker_name: str, timing_samples: int = 1000,
) -> Op[FinishManyReply]:
    """Finish several active jobs and fetch up to one next job per job finished (one token
    each in ``fetch_tokens``) in one call; per job the effects of ``move_to_finished``.
    Sent again after its reply was lost, as ``retried(op)``: when the first try ran, the
    jobs it fetched (locked with ``fetch_tokens``) are handed back instead of new ones."""
    args: list[str | int] = [keys.base, now, metrics_points, timing_samples, lock_ms,
                             limiter_max, limiter_ms, worker_name, len(finishes),
                             len(fetch_tokens), "0"]
    for job_id, token, completed, value, stack, keep, _ in finishes:
        args += [job_id, token, "completed" if completed else "failed", value, stack,
                 keep[0], keep[1], keep[2]]
    args += [f[6] for f in finishes]
    args += fetch_tokens
    return single(script("move_to_finished_many", _finish_many_keys(keys), args),
                  _decode_many if fetch_tokens else _decode_many_unfetched)


def retry_job(keys: QueueKeys, job_id: str, token: str, reason: str, stacktrace: str,
              lifo: bool) -> Op[Any]:
    return single(
        script("retry_job",
               [keys.active, keys.wait, keys.prioritized, keys.pc, keys.meta, keys.events,
                keys.marker, keys.stalled],
               [keys.base, job_id, token, reason, stacktrace, "1" if lifo else "0"]),
        checked("retry_job", job_id),
    )


def move_to_delayed(keys: QueueKeys, job_id: str, token: str, now: int, due: int, *,
                    count_attempt: bool, reason: str = "", stacktrace: str = "") -> Op[Any]:
    return single(
        script("move_to_delayed",
               [keys.active, keys.delayed, keys.meta, keys.events, keys.marker, keys.stalled],
               [keys.base, job_id, token, now, due, "1" if count_attempt else "0", reason,
                stacktrace]),
        checked("move_to_delayed", job_id),
    )


def release(keys: QueueKeys, job_id: str, token: str) -> Op[Any]:
    return single(
        script("release_job",
               [keys.active, keys.wait, keys.prioritized, keys.pc, keys.meta, keys.events,
                keys.marker, keys.stalled],
               [keys.base, job_id, token]),
        checked("release_job", job_id),
    )


def extend_locks(keys: QueueKeys, lock_ms: int, tokens: dict[str, str]) -> Op[list[str]]:
    args: list[str | int] = [keys.base, lock_ms]
    for job_id, token in tokens.items():
        args += [job_id, token]
    return single(script("extend_locks", [keys.stalled], args), lambda r: [str(i) for i in r])


def check_stalled(keys: QueueKeys, max_stalled: int, now: int,
                  interval_ms: int) -> Op[tuple[list[str], list[str]]]:
    return single(
        script("move_stalled_jobs_to_wait",
               [keys.stalled, keys.wait, keys.active, keys.stalled_check, keys.meta,
                keys.events, keys.marker],
               [keys.base, max_stalled, now, interval_ms]),
        lambda r: ([str(i) for i in r[0]], [str(i) for i in r[1]]),
    )


MANUAL_RATE_LIMIT = 9007199254740991  # the limiter value BullMQ uses for a manual rate limit


def rate_limit(keys: QueueKeys, ms: int) -> Op[Any]:
    """Hold every worker of the queue for ``ms`` (the limiter key, as BullMQ writes it)."""
    return single(raw("SET", keys.limiter, MANUAL_RATE_LIMIT, "PX", ms), lambda r: r)


def rate_limit_ttl(keys: QueueKeys) -> Op[int]:
    return single(raw("PTTL", keys.limiter), lambda r: max(int(r), 0))


def move_to_waiting_children(keys: QueueKeys, job_id: str, token: str, now: int,
                             child_key: str = "") -> Op[bool]:
    """True when moved; False when no child is pending (the job stays active)."""
    return single(
        script("move_to_waiting_children",
               [keys.active, keys.waiting_children, keys.stalled, keys.events, keys.meta],
               [keys.base, job_id, token, now, child_key]),
        lambda r: check(r, job_id=job_id, command="move_to_waiting_children") == 0,
    )


def extend_lock(keys: QueueKeys, job_id: str, token: str, lock_ms: int) -> Op[Any]:
    return single(script("extend_lock", [keys.stalled], [keys.base, job_id, token, lock_ms]),
                  checked("extend_lock", job_id))


RELAY_NAMESPACE = "default"  # a Relay's namespace when none is given (Node bullmq 6.x)
_RELAY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_RELAY_SEGMENT_UNSAFE = re.compile(r"[^A-Za-z0-9_:-]")


def relay_cancel_topic(queue_name: str) -> str:
    """``jobs.<queue>.cancel``, the topic of BullMQ's guide; characters a Relay topic
    segment cannot hold are percent-encoded, as the Relay asks its callers to."""
    encoded = _RELAY_SEGMENT_UNSAFE.sub(
        lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8")), queue_name)
    return f"jobs.{encoded}.cancel"


def publish_cancel(keys: QueueKeys, job_id: str, reason: str | None, now: int,
                   relay_namespace: str | None = RELAY_NAMESPACE) -> Op[int]:
    """Ask every listening worker of the queue to cancel ``job_id``: on the queue's cancel
    channel (queuecore workers with ``remote_cancel``) and, unless ``relay_namespace`` is
    None, on the BullMQ Relay topic ``jobs.<queue>.cancel`` (Node workers whose app
    subscribes to it); how many listeners it reached."""
    request: dict[str, str] = {"jobId": job_id}
    if reason is not None:
        request["reason"] = reason
    message = json.dumps(request, separators=(",", ":"))
    calls: list[Call] = [raw("PUBLISH", keys.cancel_channel, message)]
    if relay_namespace is not None:
        if not _RELAY_ID.fullmatch(relay_namespace):
            raise InvalidOptionsError("relay_namespace must be 1-64 of A-Z a-z 0-9 _ -")
        base = f"{keys.prefix}::relay:{{{relay_namespace}}}"
        calls.append(script("relay_publish", [f"{base}:nodes", f"{base}:subs", f"{base}:mid"],
                            [base, relay_cancel_topic(keys.name), message, now, 10_000]))
    return Op(tuple(calls), lambda replies: int(replies[0]) + (
        int(replies[1][2]) if len(replies) > 1 else 0))
