"""A dashboard clean on the private redis-server: it says what BullMQ's clean says (one
``cleaned`` event with the count, heard by queuecore's and Node's QueueEvents; no ``removed``
per job) while keeping Undo; its preview counts with the very reading the clean removes by;
a big state is cleaned in capped steps, each going on where the last one stopped."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.test import Client

from dashboard import actions
from dashboard.bulk import operations as ops
from dashboard.bulk import trash
from queuecore import Queue, QueueEvents, Triage
from tests.dashboard.conftest import MOUNT
from tests.interop.conftest import NodePeer, _missing_reason
from tests.queue_helpers import events

pytestmark = pytest.mark.django_db
Q = f"{MOUNT}default/q/cq/"


@pytest.fixture
def q(dash_redis: str) -> Iterator[Queue]:
    with Queue("cq", dash_redis) as queue:
        yield queue


@pytest.fixture
def node_peer(dash_redis: str) -> NodePeer:
    reason = _missing_reason()
    if reason is not None:
        pytest.fail(f"interop peer missing: {reason}", pytrace=False)
    node = shutil.which("node")
    assert node is not None
    return NodePeer(node, dash_redis)


def test_clean_emits_one_cleaned_heard_by_node_and_queuecore(
    q: Queue, r: redis.Redis, dash_redis: str, node_peer: NodePeer
) -> None:
    ids = [q.add("w", {"i": i}).id for i in range(4)]
    start = r.xrevrange("bull:cq:events", count=1)[0][0]
    heard = QueueEvents("cq", dash_redis, last_event_id=start, block_ms=10)
    outcome = actions.clean("default", "cq", "waiting", 0)
    assert sorted(outcome.job_ids) == sorted(ids) and outcome.resume is None
    after = [e for _, e in r.xrange("bull:cq:events", f"({start}")]
    assert after == [{"event": "cleaned", "count": "4"}]  # no "removed" per job
    assert [(e.event, e.fields) for e in heard.read()] == [("cleaned", {"count": "4"})]
    heard.close()
    seen = node_peer({"queue": "cq", "actions": [
        {"op": "events", "count": 1, "fromId": start, "timeoutMs": 10_000}]})["results"][0]
    assert [(e["event"], e["count"]) for e in seen] == [("cleaned", "4")]
    # Undo still puts them back (the trash is the same as a remove's).
    t = Triage(q)
    [op] = [o for o in ops.recent(t, 0) if o.undoable]
    assert ops.undo(t, op.id, None) == (4, 0)
    assert r.lrange("bull:cq:wait", 0, -1) == ids[::-1]


def test_a_clean_of_nothing_says_cleaned_0_and_a_remove_says_removed(
    q: Queue, r: redis.Redis
) -> None:
    job = q.add("w", None)
    r.delete("bull:cq:events")
    assert actions.clean("default", "cq", "completed", 0).count == 0
    assert events(r, "cq") == [{"event": "cleaned", "count": "0"}]
    actions.remove_job("default", "cq", job.id)
    assert events(r, "cq")[-1] == {"event": "removed", "jobId": job.id, "prev": "wait"}


def _odd_waiting(q: Queue, r: redis.Redis) -> tuple[list[str], list[str]]:
    """Waiting jobs a clean judges differently: old ones, one without a timestamp (old, as
    BullMQ's clean judges it), an id whose hash is gone (not removable), new ones."""
    old = [q.add("old", {"i": i}).id for i in range(7)]
    for job_id in old:
        r.hset(f"bull:cq:{job_id}", "timestamp", 1000)
    stamped = q.add("nostamp", None).id
    r.hdel(f"bull:cq:{stamped}", "timestamp")
    r.lpush("bull:cq:wait", "ghost")
    new = [q.add("new", {"i": i}).id for i in range(3)]
    return [*old, stamped], new


def test_preview_counts_what_the_clean_removes_in_capped_steps(
    q: Queue, r: redis.Redis, admin_user_client: Client, monkeypatch: Any
) -> None:
    """SCAN_CAP entries per request: each step's preview says what that step's clean then
    removes, and the clean sends the operator to the next step's preview."""
    monkeypatch.setattr(trash, "SCAN_CAP", 4)
    old, new = _odd_waiting(q, r)
    params = {"state": "waiting", "age": "1", "unit": "h"}
    removed: list[str] = []
    start, steps = 0, 0
    while True:
        steps += 1
        assert steps < 10
        page = admin_user_client.get(f"{Q}confirm/clean/", {**params, "from": start})
        body = page.content.decode()
        found = trash.older(Triage(q), "waiting", 3_600_000, 1000, start)
        assert f"<strong>{len(found.ids)}</strong>" in body
        assert (f"Going on from position {start}," in body) == bool(start)
        assert ("More may match" in body) == found.capped
        response = admin_user_client.post(f"{Q}actions/clean/", {**params, "from": start})
        assert response.status_code == 303
        cleaned = r.xrevrange("bull:cq:events", count=1)[0][1]
        before = len(removed)
        removed = [i for i in old if not r.exists(f"bull:cq:{i}")]
        assert cleaned == {"event": "cleaned", "count": str(len(removed) - before)}
        assert len(removed) - before == len(found.ids)
        if "from=" not in response["Location"]:
            assert response["Location"].rstrip("/").endswith("cq")
            break
        assert "confirm/clean/" in response["Location"]
        start = int(response["Location"].rsplit("from=", 1)[1])
    assert steps > 1
    assert sorted(removed) == sorted(old)
    assert all(r.exists(f"bull:cq:{i}") for i in new)
    assert "ghost" in r.lrange("bull:cq:wait", 0, -1)  # not a job: left as it was


def test_the_limit_caps_preview_and_clean_alike(
    q: Queue, r: redis.Redis, admin_user_client: Client, settings: Any
) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "CLEAN_LIMIT": 5}
    old, _new = _odd_waiting(q, r)
    params = {"state": "waiting", "age": "1", "unit": "h"}
    body = admin_user_client.get(f"{Q}confirm/clean/", params).content.decode()
    assert "<strong>5</strong>" in body
    admin_user_client.post(f"{Q}actions/clean/", params)
    assert sum(not r.exists(f"bull:cq:{i}") for i in old) == 5
    body = admin_user_client.get(f"{Q}confirm/clean/", params).content.decode()
    assert f"<strong>{len(old) - 5}</strong>" in body


def test_a_clean_stopped_by_its_limit_goes_on_where_it_stopped(
    q: Queue, r: redis.Redis, admin_user_client: Client, settings: Any
) -> None:
    """The limit, like the cap, ends a step before the end of the state: the next step goes
    on from where it stopped instead of reading the newer jobs before it again."""
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "CLEAN_LIMIT": 2}
    fresh = [q.add("fresh", {"i": i}).id for i in range(4)]  # positions 0-3, oldest first
    old = [q.add("old", {"i": i}).id for i in range(6)]
    for job_id in old:
        r.hset(f"bull:cq:{job_id}", "timestamp", 1000)
    params = {"state": "waiting", "age": "1", "unit": "h"}
    starts, location = [], f"{Q}confirm/clean/?from=0"
    while "from=" in location:
        start = int(location.rsplit("from=", 1)[1])
        starts.append(start)
        assert len(starts) < 6
        found = trash.older(Triage(q), "waiting", 3_600_000, 2, start)
        assert found.ids and all(i in old for i in found.ids)
        response = admin_user_client.post(f"{Q}actions/clean/", {**params, "from": start})
        assert response.status_code == 303
        location = response["Location"]
    assert starts == [0, 4, 4]  # the fresh jobs were read once
    assert location.rstrip("/").endswith("cq")  # the last step read to the end
    assert not any(r.exists(f"bull:cq:{i}") for i in old)
    assert all(r.exists(f"bull:cq:{i}") for i in fresh)


def test_an_id_met_again_in_a_later_page_is_taken_once(
    q: Queue, r: redis.Redis, monkeypatch: Any
) -> None:
    monkeypatch.setattr(trash, "PAGE", 2)
    old = [q.add("old", {"i": i}).id for i in range(5)]
    for job_id in old:
        r.hset(f"bull:cq:{job_id}", "timestamp", 1000)
    r.lpush("bull:cq:wait", old[0])  # at the newest end too (hostile or a race)
    found = trash.older(Triage(q), "waiting", 3_600_000, 100, 0)
    assert found.ids == old and found.scanned == 6 and not found.more


@pytest.mark.parametrize("state", ["waiting", "delayed", "prioritized"])
def test_huge_numbers_in_the_clean_urls_are_bounded(
    q: Queue, admin_user_client: Client, state: str
) -> None:
    q.add("w", None)
    huge = "99999999999999999999"
    page = admin_user_client.get(f"{Q}confirm/clean/", {"state": state, "from": huge,
                                                         "age": huge, "unit": "d"})
    assert page.status_code == 200
    response = admin_user_client.post(f"{Q}actions/clean/", {"state": state, "from": huge,
                                                             "age": huge, "unit": "d"})
    assert response.status_code == 303
    assert q.get_job_counts("waiting") == {"waiting": 1}
