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
