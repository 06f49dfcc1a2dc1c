"""Every negative code a script can return has its typed exception, and scripts raise them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources

import pytest
import redis

from queuecore import (
    ErrorCode,
    JobLockedError,
    JobNotFoundError,
    JobNotInStateError,
    LockMismatchError,
    LockNotFoundError,
    PendingChildrenError,
    Queue,
    QueueCoreError,
    ScriptError,
)
from queuecore.base.clock import now_ms
from queuecore.base.errors import ERRORS_BY_CODE, error_for_code
from queuecore.commands import worker_ops
from queuecore.commands.op import check
from queuecore.commands.scripts import get_script, script_names
from tests.queue_helpers import fetch

LUA = resources.files("queuecore.commands").joinpath("lua")
RETURN_CODE = re.compile(r"\breturn\s+-(\d+)\b")
TAKE_ACTIVE_CODES = {-1, -2, -3, -6}  # what qc_take_active can hand back


def _lua_files() -> dict[str, str]:
    files = {p.name: p.read_text(encoding="utf-8") for p in LUA.iterdir()
             if p.name.endswith(".lua")}
    files.update({"includes/" + p.name: p.read_text(encoding="utf-8")
                  for p in LUA.joinpath("includes").iterdir() if p.name.endswith(".lua")})
    return files


def _codes_returned(source: str) -> set[int]:
    codes = {-int(n) for n in RETURN_CODE.findall(source)}
    if re.search(r"qc_take_active\(", source) and re.search(r"\breturn\s+taken\b", source):
        codes |= TAKE_ACTIVE_CODES
    return codes


def test_scan_finds_scripts() -> None:
    files = _lua_files()
    assert "remove_job.lua" in files
    assert "includes/common.lua" in files
    assert _codes_returned(files["remove_job.lua"]) == {-1, -12}


def test_every_returned_code_has_an_exception() -> None:
    seen: dict[int, list[str]] = {}
    for name, source in _lua_files().items():
        for code in _codes_returned(source):
            seen.setdefault(code, []).append(name)
    assert seen, "no error codes found: the scan is broken"
    for code, where in sorted(seen.items()):
        enum = ErrorCode(code)  # raises ValueError for a code without an ErrorCode
        assert enum in ERRORS_BY_CODE, f"{code} returned by {where} has no exception"
        err = error_for_code(code, job_id="7", command="cmd")
        assert type(err) is ERRORS_BY_CODE[enum]
        assert err.code == enum


def test_headers_document_the_codes_each_script_returns() -> None:
    for name, source in _lua_files().items():
        if name.startswith("includes/"):
            continue
        header = source.split("]]", 1)[0]
        documented = {-int(n) for n in re.findall(r"-(\d+)\b", header.split("Errors", 1)[1])} \
            if "Errors" in header else set()
        returned = _codes_returned(source)
        assert returned <= documented, f"{name}: returns {returned}, header says {documented}"


def test_error_code_table_is_complete_and_consistent() -> None:
    assert set(ERRORS_BY_CODE) == set(ErrorCode)
    for enum, cls in ERRORS_BY_CODE.items():
        assert cls.code == enum
        assert issubclass(cls, ScriptError)
        assert issubclass(cls, QueueCoreError)
        assert enum < 0


def test_bullmq_numbering() -> None:
    assert ErrorCode.JOB_NOT_EXIST == -1
    assert ErrorCode.JOB_LOCK_NOT_EXIST == -2
    assert ErrorCode.JOB_NOT_IN_STATE == -3
    assert ErrorCode.JOB_PENDING_CHILDREN == -4
    assert ErrorCode.JOB_LOCK_MISMATCH == -6


def test_messages_name_the_job_and_command() -> None:
    err = error_for_code(-1, job_id="abc", command="remove")
    assert isinstance(err, JobNotFoundError)
    assert isinstance(err, LookupError)
    assert "abc" in str(err)
    assert str(err).startswith("remove:")
    assert (err.job_id, err.command) == ("abc", "remove")
    assert "?" in str(error_for_code(-3))


def test_unknown_code_is_a_plain_script_error() -> None:
    err = error_for_code(-99, job_id="1", command="x")
    assert type(err) is ScriptError
    assert "-99" in str(err)


def test_check_passes_non_negative_replies() -> None:
    assert check(0, job_id=None, command="c") == 0
    assert check(5, job_id=None, command="c") == 5
    assert check(["a"], job_id=None, command="c") == ["a"]
    with pytest.raises(JobLockedError):
        check(-12, job_id="1", command="c")


def test_every_script_loads_on_the_server(r: redis.Redis) -> None:
    for name in script_names():
        s = get_script(name)
        assert not re.search(r'^-- @include "', s.source, re.MULTILINE)  # includes resolved
        assert r.script_load(s.source) == s.sha


# -- raised for real ------------------------------------------------------------------------------


@pytest.fixture
def q(redis_url: str) -> Iterator[Queue]:
    with Queue("q", redis_url) as queue:
        yield queue


def _finish(q: Queue, job_id: str, token: str) -> None:
    q.run_op(worker_ops.move_to_finished(
        q.keys, job_id, token, now_ms(), completed=True, value="null", stacktrace="",
        keep=(-1, 0, 0), max_attempts=1, metrics_points=0, fetch_next=False, next_token="",
        lock_ms=1000, limiter_max=0, limiter_ms=0, worker_name=""))


def test_lock_errors_from_scripts(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    fetch(q, token="mine")
    with pytest.raises(LockMismatchError):
        _finish(q, "1", "theirs")
    r.delete("bull:q:1:lock")
    with pytest.raises(LockNotFoundError):
        _finish(q, "1", "mine")
    with pytest.raises(JobNotFoundError):
        _finish(q, "nope", "mine")
    assert r.lrange("bull:q:active", 0, -1) == ["1"]


def test_not_active_and_pending_children(q: Queue, r: redis.Redis) -> None:
    q.add("a")
    with pytest.raises(JobNotInStateError):
        _finish(q, "1", "0")
    fetch(q, token="t")
    r.sadd("bull:q:1:dependencies", "bull:q:child")
    with pytest.raises(PendingChildrenError):
        _finish(q, "1", "t")
    r.delete("bull:q:1:dependencies")
    _finish(q, "1", "t")
    assert json.loads(r.hget("bull:q:1", "returnvalue") or "0") is None
