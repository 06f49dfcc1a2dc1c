"""Jobs from Django code: ``enqueue_on_commit`` adds the job after the transaction commits,
never on a rollback, on the private redis-server."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from dashboard.jobs import enqueue_on_commit, get_queue
from queuecore import DataError, Job, Queue


def waiting_names(queue: Queue) -> list[str]:
    return [job.name for job in queue.get_jobs(["waiting"])]


@pytest.fixture
def emails(dash_redis: str) -> Queue:
    return get_queue("emails")


def test_get_queue_uses_the_dashboards_connection(dash_redis: str, settings: Any) -> None:
    queue = get_queue("emails")
    assert queue.name == "emails"
    assert get_queue("emails") is queue  # shared per process
    other = get_queue("reports", connection="other")
    other.add("r", {})
    assert other.client.connection_pool.connection_kwargs["db"] == 1


@pytest.mark.django_db(transaction=True)
def test_added_after_commit_and_reads_the_committed_row(emails: Queue) -> None:
    seen: list[Job] = []
    with transaction.atomic():
        user = User.objects.create_user("ada")
        enqueue_on_commit("emails", "welcome", {"user": user.pk}, on_added=seen.append)
        assert waiting_names(emails) == []  # not before the commit
    [job] = seen
    assert waiting_names(emails) == ["welcome"]
    stored = emails.get_job(job.id)
    assert stored is not None and stored.data == {"user": user.pk}
    assert User.objects.filter(pk=stored.data["user"]).exists()


@pytest.mark.django_db(transaction=True)
def test_nothing_on_rollback(emails: Queue) -> None:
    def create_then_fail() -> None:
        with transaction.atomic():
            User.objects.create_user("bob")
            enqueue_on_commit("emails", "welcome", {})
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert waiting_names(emails) == []
    assert not User.objects.filter(username="bob").exists()


def _enqueue_then_fail(name: str) -> None:
    with transaction.atomic():
        enqueue_on_commit("emails", name, {})
        raise RuntimeError("savepoint rolled back")


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_drops_only_its_jobs(emails: Queue) -> None:
    with transaction.atomic():
        enqueue_on_commit("emails", "outer", {})
        with pytest.raises(RuntimeError):
            _enqueue_then_fail("inner")
    assert waiting_names(emails) == ["outer"]


@pytest.mark.django_db(transaction=True)
def test_autocommit_adds_at_once_with_options(emails: Queue) -> None:
    enqueue_on_commit("emails", "now", {"n": 1}, job_id="fixed-1", priority=2)
    job = emails.get_job("fixed-1")
    assert job is not None and job.name == "now"
    assert emails.get_job_state("fixed-1") == "prioritized"


@pytest.mark.django_db
def test_data_is_checked_and_copied_at_the_call(
    emails: Queue, django_capture_on_commit_callbacks: Any
) -> None:
    """Under TestCase-style tests (one transaction per test), the callbacks are captured."""
    with pytest.raises(DataError, match="JSON"):
        enqueue_on_commit("emails", "bad", {"x": float("nan")})
    data = {"n": 1}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_on_commit("emails", "copied", data)
        data["n"] = 2
    assert len(callbacks) == 1
    [job] = emails.get_jobs(["waiting"])
    assert job.data == {"n": 1}
