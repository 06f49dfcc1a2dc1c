"""Triage: per-job bulk ops, side keys, and the trash (remove with undo) on a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from queuecore import AsyncQueue, AsyncTriage, InvalidOptionsError, Queue, QueueEvents, Triage
from tests.queue_helpers import events, fetch, finish

K = "bull:q:"


@pytest.fixture
def q(redis_url: str) -> Iterator[Queue]:
    with Queue("q", redis_url) as queue:
        yield queue


def _fail(q: Queue, r: redis.Redis, n: int) -> list[str]:
    ids = [q.add("j", {"i": i}).id for i in range(n)]
    for _ in ids:
        job_id = fetch(q)
        assert job_id is not None
        finish(q, job_id, completed=False, value="boom")
    return ids


def test_each_op_reports_per_job(q: Queue, r: redis.Redis) -> None:
    t = Triage(q)
    failed = _fail(q, r, 3)
    assert t.retry_each([failed[0], "nope", failed[0]]) == [1, -1, -3]
    delayed = q.add("d", None, delay=60_000).id
    assert t.promote_each([delayed, failed[1]]) == [1, -3]
    assert t.change_priority_each([delayed], 5) == [0]
    assert t.remove_each([failed[2], "nope"]) == [1, -1]
    assert r.zcard(K + "failed") == 1


def test_side_keys_are_namespaced_and_checked(q: Queue, r: redis.Redis) -> None:
    t = Triage(q, namespace="qd")
    replies = t.side(("HSET", "g", "a", "1"), ("HGET", "g", "a"), ("ZADD", "z", 1, "x"))
    assert replies == [1, "1", 1]
    assert r.hget(K + "qd:g", "a") == "1"
    with pytest.raises(InvalidOptionsError):
        t.side(("FLUSHALL", "g"))
    with pytest.raises(InvalidOptionsError):
        Triage(q, namespace="a:b")
    failed = _fail(q, r, 2)
    t.side(("ZADD", "z", 1, failed[0], 2, failed[1]))
    q.get_job(failed[0]).retry()  # type: ignore[union-attr]
    assert sorted(t.ids_not_in_state("z", "failed")) == sorted(["x", failed[0]])
    assert [i for i, _ in t.scored_ids("failed")] == [failed[1]]
    assert t.job_fields([failed[1], "nope"], ["failedReason", "zz"]) == [
        {"failedReason": "boom"}, None]
    # A job without any of the fields asked still exists: {} (not None as for a gone one).
    assert t.job_fields([failed[1], "nope"], ["zz"]) == [{}, None]


def test_trash_and_restore_every_state(q: Queue, r: redis.Redis) -> None:
    t = Triage(q)
    failed = _fail(q, r, 3)
    q.add_job_log(failed[1], "line one")
    q.add_job_log(failed[1], "line two")
    waiting = [q.add("w", {"i": i}).id for i in range(5)]
    delayed = q.add("d", None, delay=60_000).id
    prio = [q.add("p", None, priority=3).id for _ in range(3)]
    before = {
        "failed": r.zrange(K + "failed", 0, -1, withscores=True),
        "wait": r.lrange(K + "wait", 0, -1),
        "delayed": r.zrange(K + "delayed", 0, -1, withscores=True),
        "prioritized": r.zrange(K + "prioritized", 0, -1, withscores=True),
    }
    hashes = {i: r.hgetall(K + i) for i in [*failed, *waiting, delayed, *prio]}
    victims = [failed[1], failed[0], waiting[1], waiting[2], waiting[3], delayed, prio[1]]
    assert t.trash_each([*victims, "nope"], "op1", 3600) == [1] * len(victims) + [-1]
    assert t.trash_ids("op1")[1] == len(victims)
    for i in victims:
        assert not r.exists(K + i)
        assert 0 < r.ttl(K + "qd:trash:op1:" + i) <= 3600
    assert r.lrange(K + "wait", 0, -1) == [waiting[4], waiting[0]]
    # A new job took one of the ids meanwhile: that one stays in the trash.
    r.hset(K + delayed, "name", "impostor")
    assert t.restore_trash("op1", batch=2) == (len(victims) - 1, 1)
    r.delete(K + delayed)
    assert t.restore_trash("op1") == (1, 0)
    assert r.zrange(K + "failed", 0, -1, withscores=True) == before["failed"]
    assert r.lrange(K + "wait", 0, -1) == before["wait"]
    assert r.zrange(K + "delayed", 0, -1, withscores=True) == before["delayed"]
    assert r.zrange(K + "prioritized", 0, -1, withscores=True) == before["prioritized"]
    for i, h in hashes.items():
        assert r.hgetall(K + i) == h
        assert r.ttl(K + i) == -1
    assert q.get_job_logs(failed[1]) == (["line one", "line two"], 2)
    assert r.ttl(K + failed[1] + ":logs") == -1
    assert not r.keys(K + "qd:trash:*")


def test_trash_order_after_a_partial_restore(q: Queue, r: redis.Redis) -> None:
    # Ranks must not be reused once a restore shrank the trash: ids chosen so that a
    # tie on the rank (broken by id) would put "3" before "2".
    t = Triage(q)
    ids = [q.add("w", {"i": i}).id for i in range(5)]
    assert ids == ["1", "2", "3", "4", "5"]
    wait_before = r.lrange(K + "wait", 0, -1)
    for i in ("5", "4", "3"):
        assert t.trash_each([i], "op", 3600) == [1]
    # Restore only "5" (the others are held by impostors, so skipped and kept).
    for i in ("4", "3"):
        r.hset(K + i, "name", "impostor")
    assert t.restore_trash("op") == (1, 2)
    r.delete(K + "4", K + "3")
    for i in ("2", "1"):
        assert t.trash_each([i], "op", 3600) == [1]
    assert t.trash_ids("op") == (["1", "2", "3", "4"], 4)
    assert t.restore_trash("op") == (4, 0)
    assert r.lrange(K + "wait", 0, -1) == wait_before


async def test_async_triage_trashes_and_restores(redis_url: str, r: redis.Redis) -> None:
    async with AsyncQueue("q", redis_url) as q:
        t = AsyncTriage(q)
        ids = [(await q.add("j", None)).id for _ in range(3)]
        assert await t.trash_each(ids, "a1", 60) == [1, 1, 1]
        assert await q.get_job_counts("waiting") == {"waiting": 0}
        assert await t.restore_trash("a1") == (3, 0)
        assert r.lrange(K + "wait", 0, -1) == ids[::-1]
        assert r.zcard(K + "marker") == 1


def test_ids_of_a_state_without_hashes(q: Queue) -> None:
    ids = [q.add("w", None).id for _ in range(4)]
    t = Triage(q)
    assert t.ids("waiting") == ids[::-1]
    assert t.ids("waiting", 0, 1, asc=True) == ids[:2]
    with pytest.raises(InvalidOptionsError):
        t.ids("waiting", 3, 1)


def test_quiet_trash_then_one_cleaned_event(q: Queue, r: redis.Redis,
                                            redis_url: str) -> None:
    """A clean into the trash says what BullMQ's clean says: one ``cleaned`` with the count
    and no ``removed`` per job; a plain trash_each (a remove) says ``removed`` per job."""
    ids = [q.add("w", None).id for _ in range(4)]
    r.delete(K + "events")
    t = Triage(q)
    assert t.trash_each(ids[:1], "rm", 60) == [1]
    assert events(r) == [{"event": "removed", "jobId": ids[0], "prev": "wait"}]
    r.delete(K + "events")
    heard = QueueEvents("q", redis_url, last_event_id="0-0", block_ms=10)
    assert t.trash_each(ids[1:], "cl", 60, quiet=True) == [1, 1, 1]
    t.emit_cleaned(3)
    assert events(r) == [{"event": "cleaned", "count": "3"}]
    assert [(e.event, e.fields) for e in heard.read()] == [("cleaned", {"count": "3"})]
    heard.close()
    t.emit_cleaned(0)  # BullMQ's clean tells a clean that found nothing too
    assert events(r)[-1] == {"event": "cleaned", "count": "0"}
    with pytest.raises(InvalidOptionsError):
        t.emit_cleaned(-1)
    # Quiet or not, the trash restores alike.
    assert t.restore_trash("cl") == (3, 0)
    assert q.get_job_counts("waiting") == {"waiting": 3}


def test_trash_releases_the_deduplication_key_it_owns(q: Queue, r: redis.Redis) -> None:
    """The shared release (includes/common.lua): a job's dedup key goes with it, unless a
    newer job owns it by then."""
    t = Triage(q)
    first = q.add("d", None, deduplication={"id": "k1"}).id
    other = q.add("d", None, deduplication={"id": "k2"}).id
    r.set(K + "de:k2", "someone-else")
    assert t.trash_each([first, other], "dd", 60) == [1, 1]
    assert not r.exists(K + "de:k1")
    assert r.get(K + "de:k2") == "someone-else"
