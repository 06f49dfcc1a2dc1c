"""``python -m queuecore``: a worker process that drains on SIGTERM, clear errors, health."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuecore import Queue
from queuecore.worker.cli import main
from tests.redisproc import free_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
P = "tests.helpers.processors"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "queuecore", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def stop(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> tuple[int, str]:
    proc.send_signal(sig)
    code = proc.wait(15)
    assert proc.stderr is not None
    return code, proc.stderr.read()


@pytest.mark.parametrize("target", ["echo", "async_echo"])
def test_worker_runs_jobs_then_drains_on_sigterm(redis_url: str, procs: list,
                                                 target: str) -> None:
    with Queue("cli", redis_url) as q:
        jobs = [q.add("j", {"i": i}) for i in range(3)]
        worker = cli("worker", f"{P}:{target}", "--queue", "cli", "--concurrency", "2",
                     "--url", redis_url, "--name", "cli-test")
        procs.append(worker)
        wait_for(lambda: q.get_job_counts("completed")["completed"] == 3)
        for job in jobs:
            stored = q.get_job(job.id)
            assert stored is not None
            assert stored.return_value["data"] == {"i": job.data["i"]}
            assert stored.return_value["pid"] == worker.pid  # in the worker process itself
        code, err = stop(worker)
    assert code == 0, err
    assert "worker for bull:cli" in err
    assert "worker stopped" in err


@pytest.mark.parametrize(("extra", "recorded"), [([], True), (["--metrics", "0"], False)])
def test_worker_records_metrics_unless_told_not_to(redis_url: str, procs: list,
                                                   extra: list[str], recorded: bool) -> None:
    with Queue("cli-metrics", redis_url) as q:
        q.add("j", {"i": 1})
        worker = cli("worker", f"{P}:echo", "--queue", "cli-metrics", "--url", redis_url,
                     *extra)
        procs.append(worker)
        wait_for(lambda: q.get_job_counts("completed")["completed"] == 1)
        code, err = stop(worker)
        assert code == 0, err
        assert q.get_metrics("completed").count == (1 if recorded else 0)


def test_sigint_lets_the_active_job_finish(redis_url: str, procs: list) -> None:
    with Queue("cli", redis_url) as q:
        job = q.add("j", {"seconds": 0.5})
        worker = cli("worker", f"{P}:sleep", "--queue", "cli", "--url", redis_url)
        procs.append(worker)
        wait_for(lambda: q.get_job_counts("active")["active"] == 1)
        code, err = stop(worker, signal.SIGINT)
        assert code == 0, err
        assert q.get_job_state(job.id) == "completed"


def test_worker_url_from_the_environment(redis_url: str, procs: list) -> None:
    with Queue("cli", redis_url) as q:
        q.add("j", {})
        worker = cli("worker", f"{P}:echo", "--queue", "cli",
                     env={"QUEUECORE_REDIS_URL": redis_url})
        procs.append(worker)
        wait_for(lambda: q.get_job_counts("completed")["completed"] == 1)
        code, err = stop(worker)
    assert code == 0, err


def test_worker_with_processes_runs_jobs_in_children(redis_url: str, procs: list) -> None:
    with Queue("cli", redis_url) as q:
        jobs = [q.add("j", {"i": i}) for i in range(4)]
        worker = cli("worker", f"{P}:echo", "--queue", "cli", "--concurrency", "2",
                     "--processes", "2", "--url", redis_url)
        procs.append(worker)
        wait_for(lambda: q.get_job_counts("completed")["completed"] == 4)
        pids = set()
        for job in jobs:
            stored = q.get_job(job.id)
            assert stored is not None
            pids.add(stored.return_value["pid"])
        assert worker.pid not in pids
        code, err = stop(worker)
    assert code == 0, err


def test_worker_processes_run_the_initializer_before_importing(redis_url: str,
                                                                procs: list) -> None:
    with Queue("cli", redis_url) as q:
        job = q.add("j", {})
        worker = cli("worker", "tests.helpers.needs_init:report_mark", "--queue", "cli",
                     "--processes", "2", "--initializer", f"{P}:set_init_mark",
                     "--url", redis_url)
        procs.append(worker)
        wait_for(lambda: q.get_job_state(job.id) == "completed")
        stored = q.get_job(job.id)
        assert stored is not None
        assert stored.return_value["mark"] == "ready"
        code, err = stop(worker)
    assert code == 0, err


def test_an_import_error_in_the_children_is_one_line(redis_url: str, procs: list) -> None:
    proc = cli("worker", "tests.helpers.needs_init:report_mark", "--queue", "cli",
               "--processes", "2", "--url", redis_url)
    procs.append(proc)
    assert proc.wait(30) == 2
    assert proc.stderr is not None
    err = proc.stderr.read()
    lines = [line for line in err.splitlines() if "error" in line.lower()]
    assert lines == [line for line in lines if "cannot import tests.helpers.needs_init" in line]
    assert "error: cannot import tests.helpers.needs_init:report_mark: RuntimeError: imported "\
        "before the initializer ran" in err
    assert "Traceback" not in err


def test_initializer_needs_processes(procs: list) -> None:
    proc = cli("worker", f"{P}:echo", "--queue", "cli", "--initializer", f"{P}:set_init_mark")
    procs.append(proc)
    assert proc.wait(15) == 2
    assert proc.stderr is not None
    assert "--initializer needs --processes" in proc.stderr.read()


def test_bad_target_exits_with_a_clear_message(procs: list) -> None:
    proc = cli("worker", "tests.helpers.nope:process", "--queue", "cli")
    procs.append(proc)
    assert proc.wait(15) == 2
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert "cannot import tests.helpers.nope:process: ModuleNotFoundError" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["worker", "no_colon", "--queue", "q"], "pkg.module:function"),
    (["worker", f"{P}:missing", "--queue", "q"], f"cannot import {P}:missing: AttributeError"),
    (["worker", f"{P}:echo"], "--queue"),
    (["worker", f"{P}:echo", "--queue", "q", "--concurrency", "0"], "must be >= 1"),
    (["worker", f"{P}:echo", "--queue", "q", "--lock-duration", "x"], "expected an integer"),
    (["worker", f"{P}:echo", "--queue", "q", "--metrics", "-1"], "must be >= 0"),
    (["worker", f"{P}:echo", "--queue", "q", "--url", "http://x"], "redis://"),
    (["health", "--queue", "q", "--timeout", "-1"], "must be >= 0"),
    (["nothing"], "invalid choice"),
])
def test_argument_errors(argv: list[str], message: str,
                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_health_command_prints_json_and_exits_0(redis_url: str, procs: list) -> None:
    with Queue("cli", redis_url) as q:
        q.add("j", {})
    proc = cli("health", "--queue", "cli", env={"QUEUECORE_REDIS_URL": redis_url})
    procs.append(proc)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["ok"] is True
    assert report["counts"]["waiting"] == 1


def test_health_command_exits_1_when_redis_is_away(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    assert main(["health", "--queue", "cli", "--url", url, "--timeout", "1"]) == 1
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["ok"] is False
    assert "hunter2" not in out


def test_remote_cancel_reaches_a_cli_worker(redis_url: str, procs: list) -> None:
    """--remote-cancel: request_cancel from this process cancels the job the CLI worker's
    processor (taking a CancelSignal) is running."""
    from queuecore import request_cancel

    with Queue("cli", redis_url) as q:
        job = q.add("long", {})
        worker = cli("worker", f"{P}:wait_for_cancel", "--queue", "cli", "--url", redis_url,
                     "--remote-cancel")
        procs.append(worker)
        wait_for(lambda: q.get_job_logs(job.id)[1] == 1)
        wait_for(lambda: request_cancel(q, job.id, "from the cli test") == 1)
        wait_for(lambda: q.get_job_state(job.id) == "failed")
        stored = q.get_job(job.id)
        assert stored is not None and stored.failed_reason == "from the cli test"
        code, err = stop(worker)
    assert code == 0, err
