"""Tracked bulk operations on the private redis-server: chunks, a cancel between chunks, a
second start with the same token, the audit row, and clean into the trash with Undo."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client

from dashboard import actions
from dashboard.bulk import groups as fg
from dashboard.bulk import operations as ops
from dashboard.bulk.sources import IdsSource, StateSource
from dashboard.models import AuditLog
from queuecore import Queue, Triage
from tests.dashboard.conftest import MOUNT
from tests.queue_helpers import fetch, finish

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def q(dash_redis: str) -> Iterator[Queue]:
    with Queue("ops", dash_redis) as queue:
        yield queue


def _fail(q: Queue, n: int) -> list[str]:
    ids = [j.id for j in q.add_bulk([{"name": "j", "data": {"i": i}} for i in range(n)])]
    for _ in ids:
        job_id = fetch(q)
        assert job_id is not None
        finish(q, job_id, completed=False, value="boom")
    return ids


def test_an_operation_runs_in_chunks_once_and_is_audited(
    q: Queue, make_user: Callable[..., User]
) -> None:
    user = make_user(superuser=True)
    ids = _fail(q, ops.CHUNK + 20)
    t = Triage(q)
    token = "a" * 32
    assert ops.start(t, op_id=token, action="retry", source=StateSource(t, "failed"), user=user)
    assert not ops.start(t, op_id=token, action="retry", source=StateSource(t, "failed"),
                         user=user)
    ops.wait(token, 60)
    state = ops.get(t, token)
    assert state is not None
    assert (state.status, state.done, state.skipped, state.total) == ("done", len(ids), 0,
                                                                    len(ids))
    assert q.get_job_counts("waiting", "failed") == {"waiting": len(ids), "failed": 0}
    row = AuditLog.objects.get(action="bulk retry")
    assert row.count == len(ids) and len(row.job_ids) == ops.AUDIT_IDS
    assert row.username == user.get_username() and row.outcome == "ok"


class _CancelledWhileReading(IdsSource):
    """Ids whose reading ends with the user's cancel arriving (deterministically)."""

    def __init__(self, ids: list[str], t: Triage, op_id: str) -> None:
        super().__init__(ids)
        self.t, self.op_id = t, op_id

    def chunks(self, size: int) -> Iterator[list[str]]:
        ops.cancel(self.t, self.op_id)
        return super().chunks(size)


def test_cancel_stops_before_the_next_chunk(q: Queue, make_user: Callable[..., User]) -> None:
    ids = _fail(q, 30)
    t = Triage(q)
    token = "b" * 32
    ops.start(t, op_id=token, action="remove", source=_CancelledWhileReading(ids, t, token),
              user=make_user(superuser=True))
    ops.wait(token, 60)
    state = ops.get(t, token)
    assert state is not None and (state.status, state.done) == ("cancelled", 0)
    assert q.get_job_counts("failed") == {"failed": 30}


def test_remove_then_undo_is_audited_and_keeps_the_groups(
    q: Queue, make_user: Callable[..., User], r: redis.Redis
) -> None:
    ids = _fail(q, 5)
    t = Triage(q)
    fg.update(t)
    [group] = fg.groups(t)
    user = make_user(superuser=True)
    token = "c" * 32
    ops.start(t, op_id=token, action="remove", source=IdsSource(ids[:3]), user=user)
    ops.wait(token, 60)
    assert q.get_job_counts("failed") == {"failed": 2}
    state = ops.get(t, token)
    assert state is not None and state.undoable
    assert ops.undo(t, token, user) == (3, 0)
    assert q.get_job_counts("failed") == {"failed": 5}
    assert AuditLog.objects.filter(action="undo remove", count=3).exists()
    assert fg.groups(t)[0].count == group.count == 5


def test_clean_goes_to_the_trash(q: Queue, dash_redis: str, settings: Any) -> None:
    _fail(q, 4)
    outcome = actions.clean("default", "ops", "failed", 0)
    assert outcome.count == 4
    t = Triage(q)
    [op] = [o for o in ops.recent(t, 0) if o.undoable]
    assert op.done == 4 and op.label == "clean of failed jobs"
    assert ops.undo(t, op.id, None) == (4, 0)
    assert q.get_job_counts("failed") == {"failed": 4}


def test_a_running_operation_not_heard_from_shows_interrupted(
    q: Queue, make_user: Callable[..., User], admin_user_client: Client
) -> None:
    """An operation's thread beats with each chunk; one whose process stopped (its record
    says running, its beat is old) shows as interrupted with how far it got."""
    ids = _fail(q, 3)
    t = Triage(q)
    token = "d" * 32
    ops.start(t, op_id=token, action="retry", source=IdsSource(ids), user=make_user())
    ops.wait(token, 60)
    ran = ops.get(t, token)
    assert ran is not None and ran.beat >= ran.started > 0
    assert (ran.shown_status, ran.interrupted) == ("done", False)
    # What a process restarted after its first chunk leaves: a record nobody updates.
    dead, alive = "e" * 32, "f" * 32
    then = time.time() - ops.STALE_SECONDS - 60
    for op_id, beat in ((dead, then), (alive, time.time())):
        t.side(("HSET", f"op:{op_id}", "action", "remove", "label", "<b>x</b>",
                "status", "running", "total", 1200, "done", 500, "skipped", 2, "user", "ann",
                "started", repr(then), "beat", repr(beat), "trash", "1"))
    state = ops.get(t, dead)
    assert state is not None and state.interrupted and state.shown_status == "interrupted"
    assert not state.undoable and not state.finished_running  # Undo and Cancel as before
    body = admin_user_client.get(f"{MOUNT}default/q/ops/ops/{dead}/").content.decode()
    assert 'data-status="interrupted"' in body and "Interrupted" in body
    assert "500 done, 2 skipped, of 1200" in body and "Running" not in body
    assert "&lt;b&gt;x&lt;/b&gt;" in body
    body = admin_user_client.get(f"{MOUNT}default/q/ops/ops/{alive}/").content.decode()
    assert 'data-status="running"' in body and "Running" in body
    admin_user_client.post(f"{MOUNT}default/q/ops/ops/{dead}/cancel/")
    assert t.side(("HGET", f"op:{dead}", "cancel"))[0] == "1"


class _Clock:
    """A clock for ``operations``: its sleeps return at once and move it on, so a rest of
    minutes runs in no time (Redis and the beats written there are real)."""

    def __init__(self, on_sleep: Callable[[float], None]) -> None:
        self.now, self.on_sleep = time.time(), on_sleep
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.on_sleep(seconds)  # just before it: the last beat is as old as it gets
        self.slept.append(seconds)
        self.now += seconds
        self.on_sleep(0.0)  # just after it, before the next beat


def test_a_long_rest_between_chunks_beats_and_is_never_shown_interrupted(
    q: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``BULK_YIELD`` may rest up to 100 times a chunk's time: far past ``STALE_SECONDS``.
    The rest sleeps in slices of at most ``BEAT_SECONDS``, beating after each, so at no point
    of it is the operation shown interrupted; a cancel ends it at the next slice."""
    t = Triage(q)
    key, op_id = "op:" + "r" * 32, "r" * 32
    seen: list[bool] = []

    def check(_: float) -> None:
        state = ops.get(t, op_id)
        assert state is not None
        seen.append(state.interrupted)

    clock = _Clock(check)
    monkeypatch.setattr(ops, "time", clock)
    t.side(("HSET", key, "status", "running", "started", repr(clock.now),
            "beat", repr(clock.now)))
    assert ops._rest(t, key, 10 * ops.STALE_SECONDS) is False
    assert sum(clock.slept) == pytest.approx(10 * ops.STALE_SECONDS)
    assert max(clock.slept) <= ops.BEAT_SECONDS and not any(seen) and len(seen) >= 2 * 40
    assert float(t.side(("HGET", key, "beat"))[0]) == clock.now
    t.side(("HSET", key, "cancel", "1"))
    clock.slept.clear()
    assert ops._rest(t, key, 10 * ops.STALE_SECONDS) is True and clock.slept == []


def test_an_operation_is_never_recorded_without_its_start_and_beat(
    q: Queue, make_user: Callable[..., User]
) -> None:
    """The status is written in the same call as ``started`` and ``beat`` (each only if
    absent): a double submit, which shows the record at once, never finds it without them
    (then shown interrupted), and changes none of them."""
    calls: list[tuple[tuple[Any, ...], ...]] = []

    class Recording(Triage):
        def side(self, *commands: Any) -> list[Any]:
            calls.append(tuple(tuple(c) for c in commands))
            return super().side(*commands)

    ids = _fail(q, 2)
    t = Recording(q)
    token = "s" * 32
    assert ops.start(t, op_id=token, action="retry", source=IdsSource(ids), user=make_user())
    first = {c[2] for c in calls[0] if c[0] == "HSETNX"}
    assert first == {"status", "started", "beat"}
    ops.wait(token, 60)
    before = t.side(("HMGET", f"op:{token}", "started", "status"))[0]
    assert not ops.start(t, op_id=token, action="retry", source=IdsSource(ids),
                         user=make_user())
    assert t.side(("HMGET", f"op:{token}", "started", "status"))[0] == before
    assert before[1] == "done"


def test_the_times_labelled_utc_are_in_utc_whatever_the_time_zone(
    q: Queue, admin_user_client: Client, settings: Any
) -> None:
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30: hours and minutes both differ
    t = Triage(q)
    dead = "ab" * 16  # (an operation id is hex)
    beat = 1_700_000_000.0 + 7  # 22:13:27 UTC, 03:43:27 in Kolkata
    t.side(("HSET", f"op:{dead}", "action", "retry", "label", "x", "status", "running",
            "total", 2, "done", 1, "skipped", 0, "user", "ann", "started", repr(beat),
            "beat", repr(beat), "trash", "0"))
    body = admin_user_client.get(f"{MOUNT}default/q/ops/ops/{dead}/").content.decode()
    assert "not heard from since 22:13:27 UTC" in body and "03:43:27" not in body
