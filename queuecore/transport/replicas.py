"""WAIT after every call: a write counts as done once N replicas have it.

Redis replicates asynchronously: a master acknowledges a write before any replica has it, and
a failover to a replica that had not received it loses it. ``WAIT numreplicas timeout`` on
the connection that wrote blocks until that many replicas confirm everything the connection
wrote so far. It only counts for the connection that wrote, so the op's calls and the WAIT go
out together in one pipeline on one connection (a transaction as MULTI ... EXEC, then WAIT).

Asked for with the connection options ``wait_replicas`` (and ``wait_timeout_ms``, default
1000) in a URL's query or a dict of options. When fewer replicas confirm in time the call
raises ``RedisTimeoutError``: the write ran on the master but may be lost in a failover, and
an add with its own job id may be sent again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from ..commands.op import Op, RawCall, ScriptCall
from .calls import evalsha_args, is_noscript, raise_first_error

OPTIONS = ("wait_replicas", "wait_timeout_ms")
DEFAULT_TIMEOUT_MS = 1000
_ATTRIBUTE = "_queuecore_wait"


@dataclass(frozen=True, slots=True)
class WaitPolicy:
    replicas: int
    timeout_ms: int


def _positive_int(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number <= 0:
        # WAIT with timeout 0 would block for ever; 0 replicas would wait for nothing.
        raise ValueError(f"{name} must be positive, got {value!r}")
    return number


def take_policy(kwargs: dict[str, Any]) -> WaitPolicy | None:
    """Remove the WAIT options from connection options; the policy they ask for."""
    replicas = kwargs.pop("wait_replicas", None)
    timeout = kwargs.pop("wait_timeout_ms", None)
    if replicas is None:
        if timeout is not None:
            raise ValueError("wait_timeout_ms is given without wait_replicas")
        return None
    return WaitPolicy(_positive_int("wait_replicas", replicas),
                      _positive_int("wait_timeout_ms",
                                    DEFAULT_TIMEOUT_MS if timeout is None else timeout))


def attach(client: Any, policy: WaitPolicy | None) -> None:
    if policy is not None:
        setattr(client, _ATTRIBUTE, policy)


def policy_of(client: Any) -> WaitPolicy | None:
    policy = getattr(client, _ATTRIBUTE, None)
    return policy if isinstance(policy, WaitPolicy) else None


def _args(call: RawCall | ScriptCall) -> tuple[Any, ...]:
    return call.args if isinstance(call, RawCall) else evalsha_args(call)


class WaitedOp:
    """One op sent with WAIT: ``commands()`` for the next pipeline, ``take(replies)`` with
    its replies until it returns no script to load; then ``result()``."""

    def __init__(self, op: Op[Any], policy: WaitPolicy) -> None:
        self.op = op
        self.policy = policy
        self.pending = list(range(len(op.calls)))
        self.replies: list[Any] = [None] * len(op.calls)

    def commands(self) -> Iterator[tuple[Any, ...]]:
        op = self.op
        if op.transaction:
            yield ("MULTI",)
            # Scripts loaded inside the same MULTI (as the runners do): no NOSCRIPT in EXEC.
            sources = {c.script.sha: c.script.source for c in op.calls
                       if isinstance(c, ScriptCall)}
            for source in sources.values():
                yield ("SCRIPT", "LOAD", source)
            for call in op.calls:
                yield _args(call)
            yield ("EXEC",)
        else:
            for i in self.pending:
                yield _args(op.calls[i])
        yield ("WAIT", self.policy.replicas, self.policy.timeout_ms)

    def take(self, replies: list[Any]) -> list[str]:
        """Keep the replies; the sources of scripts that met NOSCRIPT (to load, then send
        only those calls again: a call that got NOSCRIPT never ran)."""
        *body, acked = replies
        if self.op.transaction:
            raise_first_error(body[:-1])  # refused while queued: EXECABORT, nothing ran
            executed = body[-1]
            if isinstance(executed, Exception):
                raise executed
            loads = len(body) - 2 - len(self.op.calls)  # MULTI, loads, calls, EXEC
            results = list(executed)[loads:]
            raise_first_error(results)
            self.replies = results
            self.pending = []
        else:
            again: list[int] = []
            for i, reply in zip(self.pending, body, strict=True):
                if is_noscript(reply):
                    again.append(i)
                else:
                    self.replies[i] = reply
            self.pending = again
            raise_first_error(self.replies)  # an error reply wins over a short WAIT
        if not self.pending:  # else the next round's WAIT covers this round's writes too
            self._check(acked)
        sources: dict[str, str] = {}
        for i in self.pending:
            call = self.op.calls[i]
            if isinstance(call, ScriptCall):
                sources[call.script.sha] = call.script.source
        return list(sources.values())

    def _check(self, acked: Any) -> None:
        if isinstance(acked, Exception):
            raise acked
        if int(acked) < self.policy.replicas:
            raise redis.TimeoutError(
                f"the command ran on the master, but only {int(acked)} of "
                f"{self.policy.replicas} replicas confirmed it within "
                f"{self.policy.timeout_ms} ms: a failover now could lose it")

    def result(self) -> Any:
        raise_first_error(self.replies)
        return self.op.decode(self.replies)
