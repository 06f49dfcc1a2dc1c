"""queuecore <-> Python bullmq 3.4.4: job edits made by one side and seen, or processed in
order, by the other, and the counts getters read alike (see edit_scenarios.py). The package
has ``updateData`` and ``changePriority``; it has no ``changeDelay``."""

from __future__ import annotations

import pytest
import redis

from . import edit_scenarios as sc
from .conftest import PyPeer

pytestmark = pytest.mark.interop


async def test_python_bullmq_updates_data_queuecore_sees(py_peer: PyPeer, redis_url: str,
                                                         r: redis.Redis) -> None:
    await sc.peer_updates_data_queuecore_sees(py_peer, redis_url, r)


async def test_queuecore_updates_data_python_bullmq_sees(py_peer: PyPeer,
                                                         redis_url: str) -> None:
    await sc.queuecore_updates_data_peer_sees(py_peer, redis_url)


async def test_python_bullmq_and_queuecore_priority_changes_agree(
        py_peer: PyPeer, redis_url: str, r: redis.Redis) -> None:
    await sc.priority_changes_agree(py_peer, redis_url, r)


def test_counts_agree_with_python_bullmq(py_peer: PyPeer, redis_url: str) -> None:
    sc.counts_agree(py_peer, redis_url)
