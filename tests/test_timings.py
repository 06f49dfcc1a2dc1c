"""queuecore's timing histograms: the bucket math, the worker's once-a-minute record, reading
many queues at once, and obliterate removing the histogram keys."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuecore import AsyncQueue, Queue, Worker, queue_stats, read_timings
from queuecore.commands.timings import (
    HOUR_MS,
    MINUTE_MS,
    TTL_SECONDS,
    Histograms,
    add_timings,
    bucket_of,
    bucket_value,
    percentile,
    slots,
)
from tests.worker_utils import running, wait_until


def test_buckets_and_percentiles():
    assert bucket_of(-5) == 0 and bucket_of(1) == 0
    assert bucket_of(2) == 4 and bucket_of(2.01) == 5
    assert bucket_of(1024) == 40
    assert bucket_of(10**15) == 140  # capped
    hist = {bucket_of(v): 0 for v in (10, 100, 1000)}
    for v, n in ((10, 50), (100, 45), (1000, 5)):
        hist[bucket_of(v)] += n
    assert percentile(hist, 50) == pytest.approx(10, rel=0.1)
    assert percentile(hist, 95) == pytest.approx(100, rel=0.1)
    assert percentile(hist, 99) == pytest.approx(1000, rel=0.1)
    assert percentile({}, 50) is None
    with pytest.raises(ValueError, match="p must be"):
        percentile(hist, 0)


@given(st.floats(1.5, 1e9))
def test_a_bucket_value_is_within_nine_percent(ms):
    assert abs(bucket_value(bucket_of(ms)) - ms) / ms < 0.095


@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=200), st.sampled_from([50, 95, 99]))
def test_histogram_percentile_is_close_to_the_exact_one(values, p):
    h = Histograms()
    for v in values:
        h.add("completed", "wait", bucket_of(v))
    exact = sorted(values)[max(1, math.ceil(len(values) * p / 100)) - 1]
    got = h.percentile("completed", "wait", p)
    assert got is not None
    assert got == pytest.approx(max(exact, 1), rel=0.1)


def test_hash_fields_round_trip_and_junk_is_skipped():
    h = Histograms()
    h.add("completed", "wait", 3, 2)
    h.add("failed", "processing", 40)
    stored = dict(h.fields())
    assert stored == {"c:w:3": 2, "f:p:40": 1}
    back = Histograms.from_hash({**{k: str(v) for k, v in stored.items()},
                                 "x:y:1": "3", "c:w:zz": "1", "c:w:999": "4", "c:p:2": "-1"})
    assert back.hists == h.hists
    assert slots(3_600_000 * 5 + 10, "h", 3) == [3_600_000 * 3, 3_600_000 * 4, 3_600_000 * 5]


async def test_a_worker_records_histograms_and_obliterate_removes_them(redis_url, r):
    q = AsyncQueue("timed", redis_url)

    async def work(job):
        await asyncio.sleep(0.02)
        if job.data.get("fail"):
            raise RuntimeError("no")
        return 1

    for i in range(6):
        await q.add("j", {"fail": i == 5})
    worker = Worker("timed", work, redis_url, metrics={"max_data_points": 60}, concurrency=3)
    async with running(worker):
        await wait_until(lambda: r.zcard("bull:timed:completed") == 5
                         and r.zcard("bull:timed:failed") == 1)
    # closing flushed the minute in progress: one minute and one hour hash, in the index
    members = r.zrange("bull:timed:qc:timings", 0, -1)
    assert sorted(m.split(":")[0] for m in members) == ["h", "m"]
    minute = int(next(m for m in members if m.startswith("m:")).split(":")[1])
    # the index expires with the hour hashes (a peer's obliterate does not delete it)
    assert 0 < r.ttl("bull:timed:qc:timings") <= TTL_SECONDS["h"]
    assert 0 < r.ttl(f"bull:timed:qc:timings:m:{minute}") <= 7200
    sync = Queue("timed", redis_url)
    (hist,) = read_timings(sync, "m", [minute])
    assert hist.count("completed") == 5 and hist.count("failed") == 1
    p50 = hist.percentile("completed", "processing", 50)
    assert p50 is not None and p50 >= 15  # each job slept 20 ms
    await q.pause()
    await q.obliterate()
    assert r.keys("bull:timed:*") == []
    sync.close()
    await q.close()


def test_index_entries_go_with_their_hashes_expiry(redis_url, r):
    now = 1000 * HOUR_MS + 30 * MINUTE_MS
    old_minute = now - 3 * HOUR_MS  # past the minute hashes' 2 h, within the hours' 8 days
    gone = now - 9 * 24 * HOUR_MS
    index = "bull:idx:qc:timings"
    r.zadd(index, {f"m:{old_minute}": old_minute, f"h:{old_minute}": old_minute,
                   f"m:{now - HOUR_MS}": now - HOUR_MS, f"h:{gone}": gone})
    h = Histograms()
    h.add("completed", "wait", 3, 2)
    minute = now - now % MINUTE_MS
    with Queue("idx", redis_url) as q:
        assert q.run_op(add_timings(q.keys, {minute: h}, now)) == 2
    assert sorted(r.zrange(index, 0, -1)) == sorted(
        [f"h:{old_minute}", f"m:{now - HOUR_MS}", f"m:{minute}", f"h:{now - now % HOUR_MS}"])
    assert TTL_SECONDS["m"] < r.ttl(index) <= TTL_SECONDS["h"]


def test_queue_stats_reads_many_queues_in_one_go(redis_url, r):
    a, b = Queue("a", redis_url), Queue("b", redis_url)
    first = a.add("x", {})
    a.add("y", {})
    b.add("x", {}, delay=60_000)
    b.pause()
    r.client_setname("bull:YQ==:w:one")  # a worker of "a", Node's name form
    stats = {s.name: s for s in queue_stats(a, ["a", "b", "missing"], metrics=True)}
    assert stats["a"].counts["waiting"] == 2 and stats["a"].workers == 1
    assert stats["a"].oldest_waiting_timestamp == first.timestamp
    assert stats["b"].paused and stats["b"].counts["delayed"] == 1
    missing = stats["missing"]
    assert missing.counts["waiting"] == 0 and missing.metrics["completed"].count == 0
    a.close()
    b.close()


async def test_a_job_finishing_while_the_worker_closes_is_recorded(redis_url, r):
    q = AsyncQueue("closing", redis_url)
    started, release = asyncio.Event(), asyncio.Event()

    async def work(job):
        started.set()
        await release.wait()
        return 1

    await q.add("j", {})
    worker = Worker("closing", work, redis_url, metrics={"max_data_points": 60})
    task = asyncio.ensure_future(worker.run())
    await asyncio.wait_for(started.wait(), 30)
    closing = asyncio.ensure_future(worker.close())
    await wait_until(lambda: worker._state.closing.is_set())
    release.set()
    await closing
    await task
    sync = Queue("closing", redis_url)
    members = r.zrange("bull:closing:qc:timings", 0, -1)
    minute = int(next(m for m in members if m.startswith("m:")).split(":")[1])
    assert read_timings(sync, "m", [minute])[0].count("completed") == 1
    sync.close()
    await q.close()
