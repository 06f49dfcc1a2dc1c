"""``manage.py queuecore_worker`` runs the queuecore worker inside the Django project."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from queuecore import Queue

ROOT = Path(__file__).resolve().parents[2]


def test_queuecore_worker_command_processes_and_drains_on_sigterm(redis_url: str) -> None:
    queue = Queue("mgmt", redis_url)
    jobs = [queue.add("echo", {"n": n}) for n in range(3)]
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "queuecore_worker", "tests.helpers.processors:echo",
         "--queue", "mgmt", "--url", redis_url, "--concurrency", "2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while queue.get_job_counts("completed")["completed"] < 3:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "jobs not processed in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert queue.get_job(jobs[0].id).return_value["data"] == {"n": 0}  # type: ignore[union-attr]
    queue.close()


def test_processes_set_django_up_in_each_child(redis_url: str) -> None:
    queue = Queue("mgmt-procs", redis_url)
    jobs = [queue.add("info", {}) for _ in range(2)]
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "queuecore_worker",
         "tests.dashboard.orm_processors:model_info", "--queue", "mgmt-procs",
         "--url", redis_url, "--processes", "2", "--concurrency", "2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while queue.get_job_counts("completed")["completed"] < 2:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "jobs not processed in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    values = [queue.get_job(j.id).return_value for j in jobs]  # type: ignore[union-attr]
    assert all(v == {"table": "auth_user", "ready": True, "pid": v["pid"]} for v in values)
    assert proc.pid not in {v["pid"] for v in values}
    queue.close()


def test_processes_import_error_is_one_line(redis_url: str) -> None:
    bad = subprocess.run(
        [sys.executable, "manage.py", "queuecore_worker", "no.such.module:fn", "--queue", "q",
         "--url", redis_url, "--processes", "2"], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=False)
    assert bad.returncode == 2
    assert "error: cannot import no.such.module:fn: ModuleNotFoundError" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_help_and_bad_target() -> None:
    out = subprocess.run(
        [sys.executable, "manage.py", "queuecore_worker", "--help"], cwd=ROOT,
        capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0
    assert "--concurrency" in out.stdout
    bad = subprocess.run(
        [sys.executable, "manage.py", "queuecore_worker", "no.such.module:fn", "--queue", "q",
         "--url", "redis://127.0.0.1:1/0"], cwd=ROOT, capture_output=True, text=True,
        timeout=30, check=False)
    assert bad.returncode != 0
    assert "cannot import" in bad.stderr
