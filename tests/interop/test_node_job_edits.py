"""queuecore <-> Node bullmq 6.7.0: job edits (update_data, change_priority, change_delay) made
by one side and seen, processed in order or on time, by the other (see edit_scenarios.py)."""

from __future__ import annotations

import pytest
import redis

from . import edit_scenarios as sc
from .conftest import NodePeer

pytestmark = pytest.mark.interop


async def test_node_updates_data_queuecore_sees(node_peer: NodePeer, redis_url: str,
                                                r: redis.Redis) -> None:
    await sc.peer_updates_data_queuecore_sees(node_peer, redis_url, r)


async def test_queuecore_updates_data_node_sees(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_updates_data_peer_sees(node_peer, redis_url)


async def test_node_and_queuecore_priority_changes_agree(node_peer: NodePeer, redis_url: str,
                                                         r: redis.Redis) -> None:
    await sc.priority_changes_agree(node_peer, redis_url, r)


async def test_node_changes_delay_queuecore_runs(node_peer: NodePeer, redis_url: str) -> None:
    await sc.peer_changes_delay_queuecore_runs(node_peer, redis_url)


async def test_queuecore_changes_delay_node_runs(node_peer: NodePeer, redis_url: str) -> None:
    await sc.queuecore_changes_delay_peer_runs(node_peer, redis_url)
