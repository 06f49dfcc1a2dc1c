"""queuecore <-> Python bullmq 3.4.4: the scenarios of tests/interop/scenarios.py, both ways.

Each test asserts what the other side sees (docs/compatibility.md has the table).
"""

from __future__ import annotations

import pytest
import redis

from . import scenarios as sc
from .conftest import PyPeer

pytestmark = pytest.mark.interop


async def test_python_bullmq_adds_queuecore_processes(py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_adds_queuecore_processes(py_peer, redis_url)


async def test_queuecore_adds_python_bullmq_processes(py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_adds_peer_processes(py_peer, redis_url)


async def test_python_bullmq_adds_queuecore_fails_with_backoff(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_adds_queuecore_fails_with_backoff(py_peer, redis_url)


async def test_queuecore_adds_python_bullmq_fails_with_backoff(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_adds_peer_fails_with_backoff(py_peer, redis_url)


async def test_python_bullmq_adds_prioritized_queuecore_order(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_adds_prioritized_queuecore_order(py_peer, redis_url)


async def test_queuecore_adds_prioritized_python_bullmq_order(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_adds_prioritized_peer_order(py_peer, redis_url)


async def test_python_bullmq_adds_delayed_queuecore_promotes(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_adds_delayed_queuecore_promotes(py_peer, redis_url)


async def test_queuecore_adds_delayed_python_bullmq_promotes(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_adds_delayed_peer_promotes(py_peer, redis_url)


async def test_python_bullmq_worker_progress_logs_seen_by_queuecore(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_worker_progress_logs(py_peer, redis_url)


async def test_queuecore_worker_progress_logs_seen_by_python_bullmq(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_worker_progress_logs(py_peer, redis_url)


async def test_python_bullmq_retries_queuecore_jobs(py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_retries_queuecore_jobs(py_peer, redis_url)


async def test_queuecore_retries_python_bullmq_jobs(py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_retries_peer_jobs(py_peer, redis_url)


async def test_python_bullmq_removes_queuecore_jobs(py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_removes_queuecore_jobs(py_peer, redis_url)


async def test_queuecore_removes_python_bullmq_jobs(py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_removes_peer_jobs(py_peer, redis_url)


async def test_queuecore_pauses_python_bullmq_sees(py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_pauses_peer_sees(py_peer, redis_url)


async def test_python_bullmq_pauses_queuecore_sees(py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_pauses_queuecore_sees(py_peer, redis_url)


async def test_python_bullmq_counts_agree(py_peer: PyPeer, redis_url: str) -> None:
    await sc.counts_agree(py_peer, redis_url)


async def test_queuecore_lists_python_bullmq_workers(py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_lists_peer_workers(py_peer, redis_url)


async def test_queuecore_flow_children_run_by_python_bullmq(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_flow_children_on_peer(py_peer, redis_url)


async def test_python_bullmq_flow_children_run_by_queuecore(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_flow_children_on_queuecore(py_peer, redis_url)


async def test_python_bullmq_scheduler_every_runs_on_queuecore(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_scheduler_runs_on_queuecore(py_peer, redis_url, cron=False)


async def test_python_bullmq_scheduler_cron_runs_on_queuecore(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_scheduler_runs_on_queuecore(py_peer, redis_url, cron=True)


async def test_queuecore_scheduler_every_runs_on_python_bullmq(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_scheduler_runs_on_peer(py_peer, redis_url, cron=False)


async def test_queuecore_scheduler_cron_runs_on_python_bullmq(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_scheduler_runs_on_peer(py_peer, redis_url, cron=True)


async def test_python_bullmq_dedup_then_queuecore(py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_dedup_then_queuecore(py_peer, redis_url)


async def test_queuecore_dedup_then_python_bullmq(py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_dedup_then_peer(py_peer, redis_url)


async def test_python_bullmq_worker_killed_queuecore_recovers(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_worker_killed_queuecore_recovers(py_peer, redis_url)


async def test_queuecore_worker_killed_python_bullmq_recovers(
        py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_worker_killed_peer_recovers(py_peer, redis_url)


async def test_python_bullmq_and_queuecore_read_bullmq5_data(
        py_peer: PyPeer, redis_url: str, r: redis.Redis) -> None:
    await sc.bullmq5_data_read(py_peer, redis_url, r)


async def test_python_bullmq_lists_queuecore_workers(py_peer: PyPeer, redis_url: str) -> None:
    await sc.peer_lists_queuecore_workers(py_peer, redis_url)


async def test_queuecore_fan_out_run_by_python_bullmq(py_peer: PyPeer, redis_url: str) -> None:
    await sc.queuecore_fan_out_run_by_peer(py_peer, redis_url)
