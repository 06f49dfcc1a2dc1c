"""Job schedulers on a real Redis: the stored format, upsert/remove, the next-run hook."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from queuecore import AsyncJob, AsyncQueue, InvalidOptionsError, Queue, Worker
from queuecore.base.clock import now_ms
from queuecore.commands.schedule import cron_next
from queuecore.commands.schedulers import repeat_scheduler_id
from queuecore.worker.scheduling import schedule_next

from .worker_utils import running, wait_until

ROOT = Path(__file__).resolve().parent.parent


def runs_of(r: redis.Redis, queue: str, scheduler_id: str) -> list[str]:
    ids = [k.split(":", 2)[2] for k in r.scan_iter(f"bull:{queue}:repeat:{scheduler_id}:*")]
    return sorted((i for i in ids if re.fullmatch(rf"repeat:{re.escape(scheduler_id)}:\d+", i)),
                  key=lambda i: int(i.rsplit(":", 1)[1]))


def due_of(job_id: str) -> int:
    return int(job_id.rsplit(":", 1)[1])


# -- the stored format ------------------------------------------------------------------------


def test_every_scheduler_is_stored_as_bullmq_does(r: redis.Redis, redis_url: str) -> None:
    with Queue("s", connection=redis_url) as q:
        before = now_ms()
        job = q.upsert_job_scheduler("ev", every=60_000, name="tick", data={"a": 1},
                                     opts={"attempts": 3, "remove_on_complete": 5})
        assert job is not None
        due = due_of(job.id)
        assert before <= due <= now_ms()  # the first run is right away
        assert job.id == f"repeat:ev:{due}" and job.scheduler_id == "ev"
        assert r.lrange("bull:s:wait", 0, -1) == [job.id]
        assert r.zscore("bull:s:repeat", "ev") == due
        h = r.hgetall("bull:s:repeat:ev")
        assert h == {"name": "tick", "every": "60000", "offset": str(due % 60_000),
                     "opts": '{"attempts":3,"removeOnComplete":5}', "data": '{"a":1}',
                     "ic": "1"}
        jh = r.hgetall(f"bull:s:{job.id}")
        assert jh["rjk"] == "ev" and jh["name"] == "tick" and jh["data"] == '{"a":1}'
        assert jh["delay"] == "0"
        opts = json.loads(jh["opts"])
        assert opts["repeat"] == {"every": 60_000, "offset": due % 60_000, "count": 1}
        assert opts["jobId"] == job.id and opts["prevMillis"] == due
        assert opts["repeatJobKey"] == "ev" and opts["attempts"] == 3


def test_cron_scheduler_waits_for_its_slot_in_its_time_zone(r: redis.Redis,
                                                           redis_url: str) -> None:
    with Queue("s", connection=redis_url) as q:
        before = now_ms()
        job = q.upsert_job_scheduler("nine", pattern="0 0 9 * * *", tz="America/New_York",
                                     limit=5, data={"b": 2})
        assert job is not None
        due = due_of(job.id)
        assert due in (cron_next("0 0 9 * * *", "America/New_York", before),
                       cron_next("0 0 9 * * *", "America/New_York", now_ms()))
        assert r.zscore("bull:s:delayed", job.id) == due * 4096
        h = r.hgetall("bull:s:repeat:nine")
        assert h["pattern"] == "0 0 9 * * *" and h["tz"] == "America/New_York"
        assert h["limit"] == "5" and h["ic"] == "1"
        [sched] = q.get_job_schedulers()
        assert (sched.id, sched.next, sched.pattern, sched.tz, sched.limit,
                sched.iteration_count, sched.template) == (
            "nine", due, "0 0 9 * * *", "America/New_York", 5, 1, {"data": {"b": 2}})


def test_upserting_twice_keeps_one_run(r: redis.Redis, redis_url: str) -> None:
    with Queue("s", connection=redis_url) as q:
        a = q.upsert_job_scheduler("c", pattern="0 * * * *", data={"v": 1})
        b = q.upsert_job_scheduler("c", pattern="0 * * * *", data={"v": 2})
        assert a is not None and b is not None and a.id == b.id
        assert r.zcard("bull:s:delayed") == 1
        assert r.hget(f"bull:s:{a.id}", "data") == '{"v":2}'  # the template is refreshed
        assert r.hget("bull:s:repeat:c", "ic") == "1"


def test_a_new_timing_replaces_the_pending_run(r: redis.Redis, redis_url: str) -> None:
    with Queue("s", connection=redis_url) as q:
        a = q.upsert_job_scheduler("c", pattern="0 0 * * *")
        b = q.upsert_job_scheduler("c", pattern="30 * * * *")
        assert a is not None and b is not None and a.id != b.id
        assert r.zrange("bull:s:delayed", 0, -1) == [b.id]
        assert not r.exists(f"bull:s:{a.id}")
        assert r.zscore("bull:s:repeat", "c") == due_of(b.id)


def test_remove_stops_future_runs(r: redis.Redis, redis_url: str) -> None:
    with Queue("s", connection=redis_url) as q:
        job = q.upsert_job_scheduler("c", every=5_000, offset=10)
        assert job is not None
        assert q.remove_job_scheduler("c") is True
        assert q.remove_job_scheduler("c") is False
        assert r.zcard("bull:s:delayed") == 0 and r.llen("bull:s:wait") == 0
        assert not r.exists("bull:s:repeat:c") and r.zcard("bull:s:repeat") == 0
        assert q.get_job_scheduler("c") is None and q.get_job_schedulers() == []


@pytest.mark.parametrize("kwargs", [
    {},
    {"every": 1000, "pattern": "* * * * *"},
    {"pattern": "every day"},
    {"pattern": "* * * * *", "tz": "Nowhere/Land"},
    {"every": -1},
    {"every": 1000, "limit": -2},
    {"every": 1000, "start_date": 2_000_000_000_000, "end_date": 1_900_000_000_000},
    {"every": 1000, "end_date": 1_000},  # already over
    {"every": 1000, "opts": {"job_id": "x"}},
    {"every": 1000, "opts": {"attempts": -1}},
    {"every": 1000, "name": 5},
])
def test_bad_schedulers_write_nothing(r: redis.Redis, redis_url: str,
                                      kwargs: dict[str, Any]) -> None:
    with Queue("s", connection=redis_url) as q, pytest.raises(InvalidOptionsError):
        q.upsert_job_scheduler("bad", **kwargs)
    assert [k for k in r.keys("bull:s:*") if not k.endswith(":meta")] == []
    with Queue("s", connection=redis_url) as q, pytest.raises(InvalidOptionsError):
        q.upsert_job_scheduler("", every=1000)


def test_add_with_repeat_upserts_the_scheduler_bullmq5_would(r: redis.Redis,
                                                              redis_url: str) -> None:
    with Queue("s", connection=redis_url) as q:
        job = q.add("report", {"x": 1}, repeat={"every": 5_000}, attempts=2)
        sid = repeat_scheduler_id("report", {"every": 5_000}, None)
        assert job.scheduler_id == sid and job.id.startswith(f"repeat:{sid}:")
        assert job.opts["attempts"] == 2
        again = q.add("report", {"x": 1}, repeat={"every": 5_000}, attempts=2)
        assert again.id == job.id
        keyed = q.add("report", None, repeat={"pattern": "0 * * * *", "key": "hourly"})
        assert keyed.scheduler_id == "hourly"
        assert {s.id for s in q.get_job_schedulers()} == {sid, "hourly"}
        assert q.get_job_schedulers_count() == 2
        with pytest.raises(InvalidOptionsError):
            q.add("report", None, repeat={"every": 5_000, "cron": "x"})  # type: ignore[typeddict-unknown-key]


def test_bullmq5_repeat_ids() -> None:
    # md5("name:jobId:endDate:tz:pattern-or-every"), as BullMQ 5 derived it
    import hashlib

    assert repeat_scheduler_id("n", {"pattern": "* * * * *", "tz": "UTC"}, "j") == \
        hashlib.md5(b"n:j::UTC:* * * * *").hexdigest()
    assert repeat_scheduler_id("n", {"every": 10}, None) == hashlib.md5(b"n::::10").hexdigest()


def test_schedulers_are_listed_by_next_run(redis_url: str) -> None:
    with Queue("s", connection=redis_url) as q:
        q.upsert_job_scheduler("late", pattern="0 0 1 1 *")
        q.upsert_job_scheduler("soon", every=1_000)
        assert [s.id for s in q.get_job_schedulers()] == ["late", "soon"]
        assert [s.id for s in q.get_job_schedulers(asc=True)] == ["soon", "late"]
        assert [s.id for s in q.get_job_schedulers(0, 0, asc=True)] == ["soon"]
        sched = q.get_job_scheduler("soon")
        assert sched is not None and sched.every == 1_000


# -- the next run -----------------------------------------------------------------------------


async def test_schedule_next_creates_the_following_run_once(r: redis.Redis,
                                                            redis_url: str) -> None:
    async with AsyncQueue("s", connection=redis_url) as q:
        first = await q.upsert_job_scheduler("e", every=1_000, data={"n": 1})
        assert first is not None
        now = now_ms()
        await schedule_next(q, first, now)
        await schedule_next(q, first, now)  # a second fetch of the same run (a stall)
        runs = runs_of(r, "s", "e")
        assert runs == [first.id, f"repeat:e:{due_of(first.id) + 1000}"]
        assert r.hget("bull:s:repeat:e", "ic") == "2"
        second = await q.get_job(runs[1])
        assert second is not None and second.data == {"n": 1}
        assert second.opts["repeat"]["count"] == 2 and second.opts["prevMillis"] == \
            due_of(runs[1])
        # an upsert now keeps the pending second run
        again = await q.upsert_job_scheduler("e", every=1_000, data={"n": 1})
        assert again is not None and again.id == runs[1]
        assert len(runs_of(r, "s", "e")) == 2


async def test_limit_is_respected(r: redis.Redis, redis_url: str) -> None:
    async with AsyncQueue("s", connection=redis_url) as q:
        job = await q.upsert_job_scheduler("l", every=1_000, limit=2)
        assert job is not None
        await schedule_next(q, job, now_ms())
        [_, second_id] = runs_of(r, "s", "l")
        second = await q.get_job(second_id)
        assert second is not None
        await schedule_next(q, second, now_ms())
        assert len(runs_of(r, "s", "l")) == 2
        assert r.hget("bull:s:repeat:l", "ic") == "2"


async def test_start_and_end_are_respected(r: redis.Redis, redis_url: str) -> None:
    async with AsyncQueue("s", connection=redis_url) as q:
        start = now_ms() + 60_000
        job = await q.upsert_job_scheduler("w", every=10_000, start_date=start,
                                           end_date=start + 15_000)
        assert job is not None and due_of(job.id) == start
        await schedule_next(q, job, now_ms())
        [_, second_id] = runs_of(r, "s", "w")
        assert due_of(second_id) == start + 10_000
        second = await q.get_job(second_id)
        assert second is not None
        await schedule_next(q, second, now_ms())  # start + 20 s is past end_date
        assert len(runs_of(r, "s", "w")) == 2


async def test_a_removed_scheduler_schedules_nothing(r: redis.Redis, redis_url: str) -> None:
    async with AsyncQueue("s", connection=redis_url) as q:
        job = await q.upsert_job_scheduler("g", every=1_000)
        assert job is not None
        r.lrem("bull:s:wait", 0, job.id)  # as if a worker had taken it
        r.lpush("bull:s:active", job.id)
        assert await q.remove_job_scheduler("g") is True
        assert r.exists(f"bull:s:{job.id}")  # a started run is left alone
        await schedule_next(q, job, now_ms())
        assert runs_of(r, "s", "g") == [job.id]


# -- with a worker ----------------------------------------------------------------------------


async def test_a_worker_runs_every_slot_once(redis_url: str) -> None:
    seen: list[str] = []

    async def process(job: AsyncJob) -> None:
        seen.append(job.id)

    async with AsyncQueue("w", connection=redis_url) as q:
        await q.upsert_job_scheduler("fast", every=300, data={"k": 1})
        worker = Worker("w", process, connection=redis_url, drain_delay=0.5)
        async with running(worker):
            await wait_until(lambda: len(seen) >= 4)
        dues = [due_of(i) for i in seen]
        assert len(set(seen)) == len(seen)
        # In order and in phase. A worker that makes the next run late (a loaded machine)
        # skips the slots already past, as both peers do (docs/compatibility.md, S1).
        assert all(b > a and (b - a) % 300 == 0 for a, b in itertools.pairwise(dues)), dues
        assert await q.remove_job_scheduler("fast") is True


async def test_a_cron_scheduler_with_seconds_runs_in_its_slots(redis_url: str) -> None:
    seen: list[tuple[str, int]] = []

    async def process(job: AsyncJob) -> None:
        seen.append((job.id, now_ms()))

    async with AsyncQueue("w", connection=redis_url) as q:
        await q.upsert_job_scheduler("sec", pattern="*/1 * * * * *", tz="Europe/Berlin")
        worker = Worker("w", process, connection=redis_url, drain_delay=0.5)
        async with running(worker):
            await wait_until(lambda: len(seen) >= 3)
        dues = [due_of(i) for i, _ in seen]
        assert all(d % 1000 == 0 for d in dues)
        # In order, one slot each; a late worker skips slots already past (S1).
        assert all(b > a for a, b in itertools.pairwise(dues)), dues
        assert all(ran >= due for (_, ran), due in zip(seen, dues, strict=True))


async def test_five_processes_upserting_at_once_make_one_run_per_slot(
        r: redis.Redis, redis_url: str) -> None:
    seen: list[str] = []

    async def process(job: AsyncJob) -> None:
        seen.append(job.id)

    start_at = now_ms() + 2_500
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.helpers.upsert_scheduler", redis_url, "five",
        str(start_at), "6", "500", cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE) for _ in range(5)]
    try:
        async with AsyncQueue("five", connection=redis_url) as q:
            # Two workers one after the other: the restart must not break the chain.
            for target in (2, 5):
                worker = Worker("five", process, connection=redis_url, drain_delay=0.5)
                async with running(worker):
                    await wait_until(lambda n=target: len(seen) >= n)
            await q.remove_job_scheduler("every-second")
    finally:
        outs = [await asyncio.wait_for(p.communicate(), 20) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1].decode() for o in outs]
    assert len(seen) >= 3, (seen, [o[0].decode() for o in outs], [o[1].decode() for o in outs])
    assert len(set(seen)) == len(seen), seen  # no slot ran twice
    dues = [due_of(i) for i in seen]
    assert dues == sorted(dues) and all(d % 1000 == 0 for d in dues)
    # one chain: slots in order, none twice (a late worker may skip slots already past: S1)
    assert all(b > a for a, b in itertools.pairwise(dues)), dues
    # and Redis holds exactly one job per slot
    stored = runs_of(r, "five", "every-second")
    assert len(stored) == len({due_of(i) for i in stored})


# -- the docs ---------------------------------------------------------------------------------


def test_docs_examples_run(redis_url: str) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "schedulers.md").read_text(),
                        re.DOTALL)
    assert len(blocks) >= 3
    namespace: dict[str, object] = {"REDIS_URL": redis_url}
    for block in blocks:
        exec(compile(block, "docs/schedulers.md", "exec"), namespace)
