"""Cluster connection options: ``failover_wait`` on the URL or in the dict, checked; a route's
``spec()`` seeds another client with every node it learned."""

from __future__ import annotations

import pytest

from queuecore import InvalidOptionsError
from queuecore.transport.cluster import seeds_of


def test_failover_wait_from_the_url_and_from_the_dict() -> None:
    found = seeds_of("redis://127.0.0.1:7000/0?cluster=true&failover_wait=2.5")
    assert found is not None
    seeds, options = found
    assert seeds == [("127.0.0.1", 7000)]
    assert options["failover_wait"] == 2.5
    found = seeds_of({"url": "redis://127.0.0.1:7000", "cluster": True, "failover_wait": 0})
    assert found is not None and found[1]["failover_wait"] == 0.0


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_a_bad_failover_wait_is_refused(value: str) -> None:
    with pytest.raises(InvalidOptionsError, match="failover_wait"):
        seeds_of(f"redis://127.0.0.1:7000/0?cluster=true&failover_wait={value}")


def test_learned_nodes_seed_another_client() -> None:
    spec = {"cluster": True, "cluster_seeds": [("127.0.0.1", 7001), ("127.0.0.1", 7002)],
            "failover_wait": 3.0, "password": "pw"}
    found = seeds_of(spec)
    assert found is not None
    seeds, options = found
    assert seeds == [("127.0.0.1", 7001), ("127.0.0.1", 7002)]  # no default 6379 added
    assert options == {"password": "pw", "failover_wait": 3.0}


def test_without_cluster_nothing_changes() -> None:
    assert seeds_of("redis://127.0.0.1:7000/0?failover_wait=2") is None
