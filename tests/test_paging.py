"""Paging a state in windows and reading some fields of many jobs (the search's reads)."""

from __future__ import annotations

import asyncio

import pytest

from queuecore import AsyncQueue, Queue


def test_scan_job_ids_walks_a_list_state_in_windows(redis_url: str) -> None:
    with Queue("paging-list", connection=redis_url) as queue:
        added = [queue.add("j", {"n": n}).id for n in range(25)]
        seen: list[str] = []
        cursor, windows = 0, 0
        while True:
            ids, cursor = queue.scan_job_ids("waiting", cursor, 10)
            seen += ids
            windows += 1
            if cursor == 0:
                break
        assert windows == 3
        assert seen == list(reversed(added))  # newest first, as the queue page lists them


def test_scan_job_ids_walks_a_sorted_set_newest_first(redis_url: str) -> None:
    with Queue("paging-zset", connection=redis_url) as queue:
        for n in range(7):
            queue.add("later", {}, delay=60_000 + n * 1000, job_id=f"d{n}")
        first, cursor = queue.scan_job_ids("delayed", 0, 4)
        rest, end = queue.scan_job_ids("delayed", cursor, 4)
        assert first == ["d6", "d5", "d4", "d3"] and cursor == 4
        assert rest == ["d2", "d1", "d0"] and end == 0
        assert queue.scan_job_ids("completed", 0, 4) == ([], 0)


def test_scan_job_ids_refuses_bad_arguments(redis_url: str) -> None:
    with Queue("paging-bad", connection=redis_url) as queue:
        with pytest.raises(Exception, match="unknown state"):
            queue.scan_job_ids("nope")
        with pytest.raises(Exception, match="count"):
            queue.scan_job_ids("waiting", 0, 0)


def test_get_job_fields_reads_the_fields_present(redis_url: str) -> None:
    with Queue("paging-fields", connection=redis_url) as queue:
        job = queue.add("mail", {"to": "a@example.com"}, job_id="x1")
        rows = queue.get_job_fields([job.id, "missing"], ["name", "data", "failedReason"])
        assert rows[0] == {"name": "mail", "data": '{"to":"a@example.com"}'}
        assert rows[1] is None
        assert queue.get_job_fields([], ["name"]) == []


def test_the_async_face_pages_the_same(redis_url: str) -> None:
    async def run() -> tuple[list[str], int, list[dict[str, str] | None]]:
        async with AsyncQueue("paging-async", connection=redis_url) as queue:
            await queue.add("a", {}, job_id="j1")
            await queue.add("b", {}, job_id="j2")
            ids, cursor = await queue.scan_job_ids("waiting", 0, 5)
            return ids, cursor, await queue.get_job_fields(ids, ["name"])

    assert asyncio.run(run()) == (["j2", "j1"], 0, [{"name": "b"}, {"name": "a"}])


def test_validate_job_options_refuses_what_add_refuses() -> None:
    from queuecore import InvalidOptionsError, validate_job_options

    validate_job_options({"attempts": 3, "backoff": {"type": "fixed", "delay": 10}})
    for bad in ({"attempts": "many"}, {"backoff": {"kind": 1}}, {"nope": 1}):
        with pytest.raises(InvalidOptionsError):
            validate_job_options(bad)
