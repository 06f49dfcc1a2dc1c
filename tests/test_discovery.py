"""Queue discovery by a bounded SCAN."""

from __future__ import annotations

import pytest
import redis.exceptions as rexc

from queuecore import Queue, RedisConnectionError, alist_queues, list_queues


def test_finds_queues_by_meta_and_id(redis_url: str, r) -> None:
    for name in ("emails", "reports"):
        with Queue(name, redis_url) as q:
            q.add("x", {})
    r.hset("bull:node-made:meta", "opts.maxLenEvents", 10000)  # a queue Node created
    r.set("bull:only-id:id", 3)
    r.set("other:emails:id", 1)  # another prefix
    r.set("bull:a:b:c:id", 1)  # not a name queuecore can open
    assert list_queues(redis_url) == ["emails", "node-made", "only-id", "reports"]
    assert list_queues(redis_url, prefix="other") == ["emails"]
    assert list_queues(redis_url, limit=2) == ["emails", "node-made"]


async def test_async_variant(redis_url: str) -> None:
    with Queue("q1", redis_url) as q:
        q.add("x", {})
    assert await alist_queues(redis_url) == ["q1"]


def test_scan_is_bounded(redis_url: str, r) -> None:
    pipe = r.pipeline()
    for i in range(3000):
        pipe.set(f"bull:filler:{i}", 1)
    pipe.execute()
    r.set("bull:found:id", 1)
    # One call of 10 keys cannot cover 3,000 keys: the scan stops instead of walking them all.
    assert list_queues(redis_url, max_calls=1, count=10) in ([], ["found"])
    assert list_queues(redis_url) == ["found"]


@pytest.mark.parametrize("prefix", ["*", "bu?ll", "[b]ull", "bull\\", ""])
def test_hostile_prefix_is_refused(redis_url: str, prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        list_queues(redis_url, prefix=prefix)


def test_one_walk_keeps_only_exact_markers(redis_url: str, r) -> None:
    r.set("bull:q1:meta-not", 1)  # matches the scan's pattern, not a marker
    r.set("bull:q2:idempotent:x", 1)
    r.set("bull:q3:metrics:completed", 1)
    r.set("bull:q4:7:id", 1)  # a job's key under queue "q4:7": not a name queuecore opens
    r.set("bull:real:id", 1)
    r.hset("bull:other:meta", "paused", 1)
    assert list_queues(redis_url) == ["other", "real"]


def test_a_walk_cut_short_is_reported(redis_url: str, r, caplog: pytest.LogCaptureFixture):
    pipe = r.pipeline()
    for i in range(500):
        pipe.set(f"bull:filler:{i}", 1)
    pipe.execute()
    with caplog.at_level("WARNING", logger="queuecore.observe.discovery"):
        list_queues(redis_url, max_calls=1, count=10)
    assert "queues may be missing" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="queuecore.observe.discovery"):
        list_queues(redis_url)
    assert caplog.text == ""


async def test_unreachable_redis_raises_queuecores_error() -> None:
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1 (see tests/test_redis_errors.py)
    with pytest.raises(RedisConnectionError) as sync_error:
        list_queues(dead)
    with pytest.raises(RedisConnectionError) as async_error:
        await alist_queues(dead)
    for error in (sync_error.value, async_error.value):
        assert not isinstance(error, rexc.RedisError)
        assert isinstance(error.__cause__, rexc.ConnectionError)


def test_cluster_slot_lookup_failure_is_queuecores_own_error() -> None:
    url = "redis://127.0.0.1:1/0?cluster=true"  # no node answers
    with pytest.raises(RedisConnectionError, match="no cluster node answered") as caught:
        Queue("q", url, prefix="{b}")
    assert not isinstance(caught.value, rexc.RedisError)
    assert "127.0.0.1:1" in str(caught.value)  # each seed asked, and why it failed
