"""queuecore <-> Node bullmq 6.7.0: the scenarios of tests/interop/scenarios.py, both ways.

Each test asserts what the other side sees (docs/compatibility.md has the table). The basic
add / complete / fail / counts / pause tests for Node are in test_node_basic.py.
"""

from __future__ import annotations

import pytest
import redis

from . import scenarios as sc
from .conftest import NodePeer

pytestmark = pytest.mark.interop


async def test_queuecore_adds_node_fails_with_backoff(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_adds_peer_fails_with_backoff(node_peer, redis_url)


async def test_node_adds_prioritized_queuecore_order(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_adds_prioritized_queuecore_order(node_peer, redis_url)


async def test_queuecore_adds_prioritized_node_order(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_adds_prioritized_peer_order(node_peer, redis_url)


async def test_node_adds_delayed_queuecore_promotes(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_adds_delayed_queuecore_promotes(node_peer, redis_url)


async def test_queuecore_adds_delayed_node_promotes(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_adds_delayed_peer_promotes(node_peer, redis_url)


async def test_node_worker_progress_logs_seen_by_queuecore(
        node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_worker_progress_logs(node_peer, redis_url)


async def test_queuecore_worker_progress_logs_seen_by_node(
        node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_worker_progress_logs(node_peer, redis_url)


async def test_node_retries_queuecore_jobs(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_retries_queuecore_jobs(node_peer, redis_url)


async def test_queuecore_retries_node_jobs(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_retries_peer_jobs(node_peer, redis_url)


async def test_node_removes_queuecore_jobs(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_removes_queuecore_jobs(node_peer, redis_url)


async def test_queuecore_removes_node_jobs(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_removes_peer_jobs(node_peer, redis_url)


async def test_queuecore_pauses_node_sees(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_pauses_peer_sees(node_peer, redis_url)


async def test_node_pauses_queuecore_sees(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_pauses_queuecore_sees(node_peer, redis_url)


async def test_node_counts_agree(node_peer: NodePeer, redis_url: str) -> None:
    await sc.counts_agree(node_peer, redis_url)


async def test_queuecore_lists_node_workers(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_lists_peer_workers(node_peer, redis_url)


async def test_queuecore_flow_children_run_by_node(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_flow_children_on_peer(node_peer, redis_url)


async def test_node_flow_children_run_by_queuecore(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_flow_children_on_queuecore(node_peer, redis_url)


async def test_node_scheduler_every_runs_on_queuecore(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_scheduler_runs_on_queuecore(node_peer, redis_url, cron=False)


async def test_node_scheduler_cron_runs_on_queuecore(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_scheduler_runs_on_queuecore(node_peer, redis_url, cron=True)


async def test_queuecore_scheduler_every_runs_on_node(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_scheduler_runs_on_peer(node_peer, redis_url, cron=False)


async def test_queuecore_scheduler_cron_runs_on_node(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_scheduler_runs_on_peer(node_peer, redis_url, cron=True)


async def test_node_dedup_then_queuecore(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_dedup_then_queuecore(node_peer, redis_url)


async def test_queuecore_dedup_then_node(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_dedup_then_peer(node_peer, redis_url)


async def test_node_worker_killed_queuecore_recovers(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_worker_killed_queuecore_recovers(node_peer, redis_url)


async def test_queuecore_worker_killed_node_recovers(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_worker_killed_peer_recovers(node_peer, redis_url)


async def test_node_and_queuecore_read_bullmq5_data(
        node_peer: NodePeer, redis_url: str, r: redis.Redis) -> None:
    await sc.bullmq5_data_read(node_peer, redis_url, r)


async def test_node_lists_queuecore_workers(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_lists_queuecore_workers(node_peer, redis_url)


async def test_node_lists_busy_queuecore_worker(node_peer: NodePeer, redis_url: str) -> None:
    await sc.busy_queuecore_worker_listed(node_peer, redis_url)
