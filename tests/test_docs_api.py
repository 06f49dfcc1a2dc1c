"""docs/api.md stays the reference of queuecore's public API: every public name, method and
property is in it, and every ``Class.member`` it names exists."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import queuecore
from queuecore import (
    AsyncFlowProducer,
    AsyncJob,
    AsyncQueue,
    AsyncTriage,
    Backoff,
    ErrorCode,
    FanOut,
    FanOutNode,
    FlowJob,
    FlowProducer,
    HealthReport,
    Job,
    JobNode,
    JobOptionsDict,
    JobRecord,
    ProcessPool,
    Queue,
    QueueEvent,
    QueueEvents,
    Triage,
    UnrecoverableError,
    Worker,
    WorkerPool,
)
from queuecore.commands.metrics import Metrics, TimingSummary
from queuecore.commands.ops import Dependencies
from queuecore.commands.schedulers import JobScheduler

API = Path(__file__).resolve().parent.parent / "docs" / "api.md"

#: Classes whose every public method, property and field must be in the reference.
MAIN_CLASSES: tuple[type, ...] = (
    Queue,
    AsyncQueue,
    JobRecord,
    Job,
    AsyncJob,
    Worker,
    WorkerPool,
    ProcessPool,
    QueueEvents,
    QueueEvent,
    FlowProducer,
    AsyncFlowProducer,
    JobNode,
    FanOut,
    FanOutNode,
    Backoff,
    HealthReport,
    ErrorCode,
    Triage,
    AsyncTriage,
)
#: Returned by public methods without being importable from ``queuecore`` itself.
RETURNED_TYPES: tuple[type, ...] = (Metrics, TimingSummary, JobScheduler, Dependencies)
#: Blocking classes and their asyncio twins, documented as "the same, as coroutines".
TWINS = (
    (Queue, AsyncQueue),
    (Job, AsyncJob),
    (FlowProducer, AsyncFlowProducer),
    (Triage, AsyncTriage),
)


@cache
def prose() -> str:
    """docs/api.md without its fenced code blocks."""
    return re.sub(r"```.*?```", "", API.read_text(), flags=re.DOTALL)


@cache
def spans() -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`\n]+)`", prose()))


def documented_members() -> set[tuple[str, str]]:
    """``(Class, member)`` of every inline code span that starts with ``Class.member``."""
    found = set()
    for span in spans():
        match = re.match(r"([A-Z][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)", span)
        if match:
            found.add((match[1], match[2]))
    return found


def _owner(cls: type, member: str) -> type:
    return next(c for c in cls.__mro__ if member in vars(c))


def public_members(cls: type) -> set[str]:
    """Methods, properties and fields that ``cls`` or a queuecore base of it defines."""
    return {
        m
        for m in dir(cls)
        if not m.startswith("_") and _owner(cls, m).__module__.startswith("queuecore")
    }


def doc_name(cls: type, member: str) -> str:
    """Where the reference lists ``cls.member``: under the public class that defines it
    (``JobRecord.data`` for ``Job.data``), else under ``cls`` itself."""
    owner = _owner(cls, member)
    public = owner.__name__ in queuecore.__all__ and owner.__module__.startswith("queuecore")
    return f"{(owner if public else cls).__name__}.{member}"


@cache
def instance_attributes(cls: type) -> frozenset[str]:
    """Names assigned as ``self.<name>`` in the methods of ``cls`` and its queuecore bases."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("queuecore"):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                targets = [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if (
                        isinstance(sub, ast.Attribute)
                        and isinstance(sub.value, ast.Name)
                        and sub.value.id == "self"
                    ):
                        names.add(sub.attr)
    return frozenset(names)


def exists(cls: type, member: str) -> bool:
    if hasattr(cls, member) or member in instance_attributes(cls):
        return True
    if dataclasses.is_dataclass(cls):
        return member in {f.name for f in dataclasses.fields(cls)}
    return member in getattr(cls, "__annotations__", {})  # TypedDict keys


def test_every_public_name_is_documented() -> None:
    words = {w for span in spans() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span)}
    missing = sorted(set(queuecore.__all__) - words)
    assert not missing, f"docs/api.md does not mention: {missing}"


def test_every_public_member_of_the_main_classes_is_documented() -> None:
    documented = {f"{c}.{m}" for c, m in documented_members()}
    missing = sorted(
        {doc_name(cls, m) for cls in MAIN_CLASSES for m in public_members(cls)} - documented
    )
    assert not missing, f"docs/api.md does not document: {missing}"


def test_every_documented_member_exists() -> None:
    namespace: dict[str, type] = {
        name: obj for name in queuecore.__all__ if inspect.isclass(obj := getattr(queuecore, name))
    }
    namespace |= {cls.__name__: cls for cls in RETURNED_TYPES}
    unknown = sorted(f"{c}.{m}" for c, m in documented_members() if c not in namespace)
    assert not unknown, f"docs/api.md names classes queuecore does not have: {unknown}"
    wrong = sorted(f"{c}.{m}" for c, m in documented_members() if not exists(namespace[c], m))
    assert not wrong, f"docs/api.md names members that do not exist: {wrong}"


def _section(title: str) -> str:
    text = prose()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_job_options_and_flow_keys_are_documented() -> None:
    table = _section("Job options")
    first_column = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))
    assert first_column == set(JobOptionsDict.__annotations__)
    flows = _section("Flows")
    for key in FlowJob.__annotations__:
        assert f"`{key}`" in flows, key


def test_async_twins_have_the_same_api() -> None:
    """What the reference says in one sentence: the asyncio class has the same members, with
    the same parameters, as coroutines."""
    for sync_cls, async_cls in TWINS:
        assert public_members(sync_cls) == public_members(async_cls), sync_cls.__name__
        for member in public_members(sync_cls):
            sync_attr = inspect.getattr_static(sync_cls, member)
            if not inspect.isfunction(sync_attr):
                continue  # properties, fields, class methods
            sync_fn, async_fn = getattr(sync_cls, member), getattr(async_cls, member)
            where = f"{async_cls.__name__}.{member}"
            assert not inspect.iscoroutinefunction(sync_fn), f"{sync_cls.__name__}.{member}"
            assert inspect.iscoroutinefunction(async_fn), f"{where} is not a coroutine"
            assert list(inspect.signature(sync_fn).parameters) == list(
                inspect.signature(async_fn).parameters
            ), where


async def test_the_job_schema_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section_raw("Job schemas"), re.DOTALL)
    assert len(blocks) == 1
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], "docs/api.md", "exec"), namespace)
    good = {"to": "ada@example.com", "user_id": 7}
    assert await namespace["process"](SimpleNamespace(name="welcome", data=good)) == {
        "sent": "ada@example.com"
    }
    for name, data in (("welcome", {"to": "x"}), ("welcome", []), ("other", good)):
        with pytest.raises(UnrecoverableError):
            await namespace["process"](SimpleNamespace(name=name, data=data))


def _section_raw(title: str) -> str:
    text = API.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]
