"""The command layer: each operation is a plain value (the calls to make and how to decode
the replies), built by a pure function and run by the sync or the async runner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from ..base.errors import error_for_code
from .scripts import Script, get_script

T = TypeVar("T")
Arg: TypeAlias = str | int | float


@dataclass(frozen=True, slots=True)
class ScriptCall:
    script: Script
    keys: tuple[str, ...]
    args: tuple[Arg, ...]


@dataclass(frozen=True, slots=True)
class RawCall:
    args: tuple[Arg, ...]


Call: TypeAlias = ScriptCall | RawCall


@dataclass(frozen=True, slots=True)
class Op(Generic[T]):
    """Calls sent in one round trip (a pipeline when more than one) and the decoder of the
    list of their replies."""

    calls: tuple[Call, ...]
    decode: Callable[[list[Any]], T]
    transaction: bool = False  # all calls in one MULTI/EXEC (all or nothing)


def script(name: str, keys: Sequence[str], args: Sequence[Arg]) -> ScriptCall:
    return ScriptCall(get_script(name), tuple(keys), tuple(args))


def raw(*args: Arg) -> RawCall:
    return RawCall(args)


def single(call: Call, decode: Callable[[Any], T]) -> Op[T]:
    return Op((call,), lambda replies: decode(replies[0]))


def check(reply: Any, *, job_id: str | None, command: str) -> Any:
    """Raise the typed error for a negative integer reply; return any other reply."""
    if isinstance(reply, int) and reply < 0:
        raise error_for_code(reply, job_id=job_id, command=command)
    return reply


def checked(command: str, job_id: str | None = None) -> Callable[[Any], Any]:
    return lambda reply: check(reply, job_id=job_id, command=command)
