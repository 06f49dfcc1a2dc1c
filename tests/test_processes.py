"""ProcessPool: processors in child processes, crash isolation, time limits, no orphans."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis

from queuecore import Queue, UnrecoverableError
from queuecore.base.errors import (
    ChildProcessCrashedError,
    DelayedError,
    InvalidOptionsError,
    JobTimeoutError,
    QueueCoreError,
    RemoteProcessorError,
)
from queuecore.commands.failure import plan_failure
from queuecore.commands.record import JobRecord
from queuecore.worker.process_pool import ProcessPool, portable_connection
from queuecore.worker.targets import import_target, target_path
from tests.helpers import processors
from tests.waiting import wait_for, wait_until

ROOT = Path(__file__).resolve().parent.parent
P = "tests.helpers.processors"


def add_job(url: str, data: dict[str, object], queue: str = "procs") -> tuple[str, dict[str, str]]:
    """A job stored in Redis, and its hash as the worker would hand it over."""
    with Queue(queue, url) as q:
        job = q.add("j", data)
        h = q.client.hgetall(q.keys.job(job.id))
    return job.id, h


def gone(pid: int) -> bool:
    """True when the process has ended (a zombie counts: it runs nothing any more)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def wait_gone(pid: int) -> None:
    await wait_until(lambda: gone(pid), what=f"process {pid} gone")


@pytest.fixture
async def pool2(redis_url: str) -> AsyncIterator[ProcessPool]:
    pool = ProcessPool(f"{P}:burn_cpu", 2, redis_url, "procs")
    await pool.start()
    yield pool
    await pool.close()


# -- targets, no Redis --------------------------------------------------------------------


def test_target_path_accepts_text_and_top_level_functions() -> None:
    assert target_path(f"{P}:echo") == f"{P}:echo"
    assert target_path(processors.echo) == f"{P}:echo"
    assert import_target(f"{P}:echo") is processors.echo


@pytest.mark.parametrize("bad", ["nocolon", "pkg.mod:", ":func", "pkg mod:f", "a:b-c"])
def test_target_path_rejects_malformed_text(bad: str) -> None:
    with pytest.raises(InvalidOptionsError, match=r"pkg\.module:function"):
        target_path(bad)


def test_target_path_rejects_lambdas_and_closures() -> None:
    def inner(job: object) -> None: ...

    for fn in (lambda job: None, inner):
        with pytest.raises(InvalidOptionsError, match="top-level function"):
            target_path(fn)


def test_import_target_says_what_failed() -> None:
    with pytest.raises(InvalidOptionsError, match=r"cannot import tests\.helpers\.nope:f: "
                                                   r"ModuleNotFoundError"):
        import_target("tests.helpers.nope:f")
    with pytest.raises(InvalidOptionsError, match="AttributeError"):
        import_target(f"{P}:missing")


def test_portable_connection_turns_a_client_into_plain_options() -> None:
    assert portable_connection("redis://h:1/2") == "redis://h:1/2"
    client = redis.Redis(host="h", port=7, db=3, password="pw")
    plain = portable_connection(client)
    client.close()
    assert isinstance(plain, dict)
    assert (plain["host"], plain["port"], plain["db"], plain["password"]) == ("h", 7, 3, "pw")


def test_bad_arguments_fail_before_any_process_starts() -> None:
    with pytest.raises(InvalidOptionsError, match="processes"):
        ProcessPool(f"{P}:echo", 0, None, "q")
    with pytest.raises(InvalidOptionsError, match="context"):
        ProcessPool(f"{P}:echo", 1, None, "q", context="fork")


async def test_run_before_start_is_refused() -> None:
    pool = ProcessPool(f"{P}:echo", 1, None, "q")
    with pytest.raises(QueueCoreError, match="start"):
        await pool.run("1", {}, "t")


# -- running jobs -------------------------------------------------------------------------


async def test_cpu_bound_jobs_run_in_parallel_on_two_pids(redis_url: str,
                                                          pool2: ProcessPool) -> None:
    jobs = [add_job(redis_url, {"seconds": 0.6}) for _ in range(2)]
    first, second = await asyncio.gather(
        *(pool2.run(job_id, h, f"tok{i}") for i, (job_id, h) in enumerate(jobs)))
    assert first["pid"] != second["pid"]
    assert {first["pid"], second["pid"]} == set(pool2.pids)
    assert os.getpid() not in (first["pid"], second["pid"])
    # Both were running at once: each started before the other ended.
    assert first["start"] < second["end"]
    assert second["start"] < first["end"]


async def test_progress_and_logs_from_the_child_land_in_redis(redis_url: str) -> None:
    job_id, h = add_job(redis_url, {"x": 1})
    async with ProcessPool(processors.report, 1, redis_url, "procs") as pool:
        result = await pool.run(job_id, h, "the-token")
    assert result["pid"] != os.getpid()
    assert result["token"] == "the-token"
    assert result["type"] == "Job"
    with Queue("procs", redis_url) as q:
        job = q.get_job(job_id)
        assert job is not None
        assert job.progress == {"step": 1, "of": 2}
        assert q.get_job_logs(job_id) == ([f"hello from pid {result['pid']}"], 1)


async def test_async_target_gets_an_async_job_on_its_own_loop(redis_url: str) -> None:
    job_id, h = add_job(redis_url, {})
    async with ProcessPool(f"{P}:async_report", 1, redis_url, "procs") as pool:
        result = await pool.run(job_id, h, "tok")
        again = await pool.run(job_id, h, "tok")  # the child's loop and queue are reused
    assert result["type"] == again["type"] == "AsyncJob"
    assert result["pid"] == again["pid"]
    with Queue("procs", redis_url) as q:
        job = q.get_job(job_id)
        assert job is not None
        assert job.progress == 75
        assert q.get_job_logs(job_id)[1] == 2


async def test_job_data_arrives_as_json(redis_url: str) -> None:
    data = {"text": "héllo", "n": [1, 2.5, None, True], "nested": {"a": {"b": "c"}}}
    job_id, h = add_job(redis_url, data)
    async with ProcessPool(f"{P}:echo", 1, redis_url, "procs") as pool:
        result = await pool.run(job_id, h, "tok")
    assert result["id"] == job_id
    assert result["data"] == data


# -- failures -----------------------------------------------------------------------------


async def test_exception_in_child_carries_its_traceback(redis_url: str) -> None:
    job_id, h = add_job(redis_url, {"value": "x1"})
    async with ProcessPool(f"{P}:fail", 1, redis_url, "procs") as pool:
        with pytest.raises(RemoteProcessorError) as info:
            await pool.run(job_id, h, "tok")
        with pytest.raises(RemoteProcessorError):  # the same child serves the next job
            await pool.run(job_id, h, "tok")
    err = info.value
    assert str(err) == "cannot parse 'x1'"
    assert err.remote_type == "builtins.ValueError"
    assert "in fail" in err.remote_traceback
    assert "in _parse" in err.remote_traceback
    assert "ValueError: cannot parse 'x1'" in err.remote_traceback
    # The job's stacktrace, as the worker stores it, shows the child's traceback.
    plan = plan_failure(JobRecord(id=job_id), err)
    assert plan.reason == "cannot parse 'x1'"
    [entry] = json.loads(plan.stacktrace_json)
    assert "in _parse" in entry
    assert entry.endswith("ValueError: cannot parse 'x1'")  # the child's own traceback


async def test_unrecoverable_error_keeps_its_class(redis_url: str) -> None:
    job_id, h = add_job(redis_url, {})
    async with ProcessPool(f"{P}:fail_unrecoverable", 1, redis_url, "procs") as pool:
        with pytest.raises(UnrecoverableError, match="this input can never work") as info:
            await pool.run(job_id, h, "tok")
    assert not isinstance(info.value, RemoteProcessorError)
    plan = plan_failure(JobRecord(id=job_id, opts={"attempts": 5}), info.value)
    assert plan.retry_in_ms is None  # no further attempts
    assert "fail_unrecoverable" in json.loads(plan.stacktrace_json)[0]


async def test_result_that_is_not_json_is_an_error(redis_url: str) -> None:
    job_id, h = add_job(redis_url, {})
    async with ProcessPool(f"{P}:not_json", 1, redis_url, "procs") as pool:
        with pytest.raises(RemoteProcessorError) as info:
            await pool.run(job_id, h, "tok")
    assert info.value.remote_type == "queuecore.base.errors.DataError"


async def test_job_moved_by_its_processor_is_left_alone(redis_url: str) -> None:
    with Queue("procs", redis_url) as q:
        job = q.add("j", {})
        # Make it active with a lock, as a worker's fetch would.
        q.client.lmove(q.keys.wait, q.keys.active, "RIGHT", "LEFT")
        q.client.set(q.keys.lock(job.id), "tok", px=30_000)
        h = q.client.hgetall(q.keys.job(job.id))
        async with ProcessPool(f"{P}:delay_self", 1, redis_url, "procs") as pool:
            with pytest.raises(DelayedError):
                await pool.run(job.id, h, "tok")
        assert q.get_job_state(job.id) == "delayed"


async def test_sigkilled_child_fails_only_that_attempt(redis_url: str) -> None:
    killed_id, killed_h = add_job(redis_url, {"kill": True})
    next_id, next_h = add_job(redis_url, {"kill": False})
    async with ProcessPool(f"{P}:kill_self", 1, redis_url, "procs") as pool:
        [victim] = pool.pids
        with pytest.raises(ChildProcessCrashedError, match="SIGKILL") as info:
            await pool.run(killed_id, killed_h, "tok")
        assert info.value.exitcode == -signal.SIGKILL
        assert info.value.pid == victim
        pid = await pool.run(next_id, next_h, "tok")
        assert pid != victim
        assert pool.pids == [pid]
    assert gone(victim)
    await wait_gone(pid)


async def test_child_that_exits_is_replaced(redis_url: str) -> None:
    job_id, h = add_job(redis_url, {})
    async with ProcessPool(f"{P}:exit_hard", 1, redis_url, "procs") as pool:
        for _ in range(2):
            with pytest.raises(ChildProcessCrashedError, match="exit code 3") as info:
                await pool.run(job_id, h, "tok")
            assert info.value.exitcode == 3


async def test_child_dead_while_idle_is_replaced_before_the_job(redis_url: str) -> None:
    job_id, h = add_job(redis_url, {})
    async with ProcessPool(f"{P}:kill_self", 1, redis_url, "procs") as pool:
        [idle] = pool.pids
        assert idle is not None
        os.kill(idle, signal.SIGKILL)
        await wait_gone(idle)
        pid = await pool.run(job_id, h, "tok")
        assert pid != idle


async def test_timeout_terminates_and_replaces_the_child(redis_url: str) -> None:
    slow_id, slow_h = add_job(redis_url, {"seconds": 30})
    quick_id, quick_h = add_job(redis_url, {"seconds": 0})
    async with ProcessPool(f"{P}:sleep", 1, redis_url, "procs") as pool:
        [first] = pool.pids
        assert first is not None
        with pytest.raises(JobTimeoutError, match=r"timed out after 0\.3 s"):
            await pool.run(slow_id, slow_h, "tok", 0.3)
        assert gone(first)  # dead before the error was raised: no double run on retry
        pid = await pool.run(quick_id, quick_h, "tok", 5)
        assert pid != first


async def test_timeout_kills_a_child_that_ignores_sigterm(redis_url: str) -> None:
    job_id, h = add_job(redis_url, {"seconds": 30})
    pool = ProcessPool(f"{P}:sleep_ignoring_sigterm", 1, redis_url, "procs", term_grace=0.3)
    async with pool:
        [first] = pool.pids
        assert first is not None
        with pytest.raises(JobTimeoutError):
            await pool.run(job_id, h, "tok", 0.3)
        assert gone(first)  # killed: the 30 s job did not run to its end


async def test_a_cancelled_run_does_not_leave_the_child_running_the_job(redis_url: str) -> None:
    slow_id, slow_h = add_job(redis_url, {"seconds": 30})
    quick_id, quick_h = add_job(redis_url, {"seconds": 0})
    async with ProcessPool(f"{P}:sleep", 1, redis_url, "procs") as pool:
        [first] = pool.pids
        assert first is not None
        task = asyncio.ensure_future(pool.run(slow_id, slow_h, "tok"))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        pid = await pool.run(quick_id, quick_h, "tok", 10)
        assert pid != first
        assert gone(first)


# -- starting and stopping ----------------------------------------------------------------


async def test_a_target_that_cannot_be_imported_fails_start(redis_url: str) -> None:
    pool = ProcessPool("tests.helpers.nope:process", 2, redis_url, "procs")
    with pytest.raises(InvalidOptionsError, match=r"cannot import tests\.helpers\.nope:process"):
        await pool.start()
    assert pool.pids == [None, None]


async def test_the_initializer_runs_in_each_child_before_the_processor_is_imported(
    redis_url: str,
) -> None:
    job_id, h = add_job(redis_url, {})
    assert "QC_TEST_INIT_MARK" not in os.environ  # the children's own, not inherited
    async with ProcessPool("tests.helpers.needs_init:report_mark", 2, redis_url, "procs",
                           initializer=processors.set_init_mark) as pool:
        assert pool.initializer == f"{P}:set_init_mark"
        results = await asyncio.gather(*(pool.run(job_id, h, "tok", 10) for _ in range(2)))
    assert {r["mark"] for r in results} == {"ready"}
    assert len({r["pid"] for r in results}) == 2


async def test_without_the_initializer_the_import_error_says_so(redis_url: str) -> None:
    pool = ProcessPool("tests.helpers.needs_init:report_mark", 1, redis_url, "procs")
    with pytest.raises(InvalidOptionsError, match=r"cannot import .*before the initializer"):
        await pool.start()


async def test_a_failing_initializer_fails_start_with_its_reason(redis_url: str) -> None:
    pool = ProcessPool(f"{P}:echo", 1, redis_url, "procs",
                       initializer=f"{P}:failing_initializer")
    with pytest.raises(InvalidOptionsError, match=r"initializer .*failing_initializer failed: "
                                                  r"RuntimeError: no settings here"):
        await pool.start()


def test_a_malformed_initializer_is_refused_at_once() -> None:
    with pytest.raises(InvalidOptionsError, match=r"pkg\.module:function"):
        ProcessPool(f"{P}:echo", 1, None, "procs", initializer="not a path")


async def test_close_stops_every_child(redis_url: str) -> None:
    pool = ProcessPool(f"{P}:echo", 3, redis_url, "procs")
    await pool.start()
    pids = pool.pids
    assert len({p for p in pids if p}) == 3
    await pool.close()
    await pool.close()  # twice is fine
    for pid in pids:
        assert pid is not None
        await wait_gone(pid)
    with pytest.raises(QueueCoreError):
        await pool.run("1", {}, "t")


def test_children_exit_when_their_parent_is_killed(redis_url: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.pool_parent", redis_url, "2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        pids = [int(p) for p in json.loads(line)]
        assert len(pids) == 2
        assert not any(gone(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_for(lambda: all(gone(p) for p in pids), what="the orphaned children gone")
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait(10)
        for stream in (parent.stdout, parent.stderr):
            if stream:
                stream.close()
