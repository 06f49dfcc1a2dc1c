"""Every action as a POST: effect, audit row, htmx response, 403 and CSRF refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard.models import AuditLog
from tests.dashboard.conftest import MOUNT
from tests.dashboard.jobs import populate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]

Q = f"{MOUNT}default/q/emails/"


@pytest.fixture
def jobs(dash_redis: str, queue: Any) -> dict[str, list[str]]:
    return populate(dash_redis, queue)


def last_audit() -> AuditLog:
    entry = AuditLog.objects.order_by("-id").first()
    assert entry is not None
    return entry


def test_retry_failed_job(
    admin_user_client: Client, queue: Any, jobs: dict[str, list[str]]
) -> None:
    job_id = jobs["failed"][0]
    response = admin_user_client.post(f"{Q}jobs/{job_id}/retry/")
    assert response.status_code == 303
    assert response["Location"] == f"{Q}jobs/{job_id}/"
    assert queue.get_job(job_id).get_state() == "waiting"
    entry = last_audit()
    assert (entry.action, entry.outcome, entry.queue, entry.job_ids) == (
        "retry job",
        "ok",
        "emails",
        [job_id],
    )
    assert entry.username.startswith("user")


def test_retry_completed_job(
    admin_user_client: Client, queue: Any, jobs: dict[str, list[str]]
) -> None:
    job_id = jobs["completed"][0]
    admin_user_client.post(f"{Q}jobs/{job_id}/retry/")
    assert queue.get_job(job_id).get_state() == "waiting"


def test_promote_job_via_htmx(
    admin_user_client: Client, queue: Any, jobs: dict[str, list[str]]
) -> None:
    job_id = jobs["delayed"][0]
    response = admin_user_client.post(f"{Q}jobs/{job_id}/promote/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{Q}jobs/{job_id}/"
    assert queue.get_job(job_id).get_state() == "waiting"


def test_remove_job(admin_user_client: Client, queue: Any, jobs: dict[str, list[str]]) -> None:
    job_id = jobs["waiting"][0]
    response = admin_user_client.post(f"{Q}jobs/{job_id}/remove/")
    assert response["Location"] == Q
    assert queue.get_job(job_id) is None
    follow = admin_user_client.get(Q)
    assert f"Job {job_id} removed." in follow.content.decode()


def test_job_action_error_is_reported_and_audited(
    admin_user_client: Client, queue: Any, jobs: dict[str, list[str]]
) -> None:
    # A waiting job is answered calmly now ("already promoted", tests/dashboard/
    # test_controls.py); retrying a delayed job is still refused.
    job_id = jobs["delayed"][0]
    response = admin_user_client.post(f"{Q}jobs/{job_id}/retry/", follow=True)
    assert response.status_code == 200
    assert "retry job failed" in response.content.decode()
    assert last_audit().outcome == "error"
    missing = admin_user_client.post(f"{Q}jobs/nope/retry/")
    assert missing.status_code == 303
    assert last_audit().outcome == "error"


def test_unknown_action_is_404(admin_user_client: Client, queue: Any) -> None:
    assert admin_user_client.post(f"{Q}jobs/1/explode/").status_code == 404
    assert admin_user_client.post(f"{Q}actions/explode/").status_code == 404
    assert admin_user_client.get(f"{Q}confirm/pause/").status_code == 404


def test_get_is_refused_on_actions(admin_user_client: Client, queue: Any) -> None:
    assert admin_user_client.get(f"{Q}jobs/1/retry/").status_code == 405
    assert admin_user_client.get(f"{Q}actions/pause/").status_code == 405


def test_pause_and_resume(admin_user_client: Client, queue: Any) -> None:
    admin_user_client.post(f"{Q}actions/pause/")
    assert queue.is_paused()
    assert "paused" in admin_user_client.get(Q).content.decode()
    admin_user_client.post(f"{Q}actions/resume/")
    assert not queue.is_paused()
    assert [e.action for e in AuditLog.objects.order_by("id")] == ["pause", "resume"]


def test_retry_all_confirmation_counts_then_retries(
    admin_user_client: Client, queue: Any, jobs: dict[str, list[str]]
) -> None:
    page = admin_user_client.get(f"{Q}confirm/retry-all/")
    assert "This will touch <strong>1</strong> job." in page.content.decode()
    fragment = admin_user_client.get(f"{Q}confirm/retry-all/", headers={"HX-Request": "true"})
    assert "<html" not in fragment.content.decode()
    assert "HX-Request" in fragment["Vary"]
    admin_user_client.post(f"{Q}actions/retry-all/")
    assert queue.get_job_counts("failed")["failed"] == 0
    assert last_audit().count == 1


def test_promote_all(admin_user_client: Client, queue: Any, jobs: dict[str, list[str]]) -> None:
    assert (
        "<strong>1</strong>" in admin_user_client.get(f"{Q}confirm/promote-all/").content.decode()
    )
    admin_user_client.post(f"{Q}actions/promote-all/")
    assert queue.get_job_counts("delayed")["delayed"] == 0


def test_clean(admin_user_client: Client, queue: Any, jobs: dict[str, list[str]]) -> None:
    # The count is of what a clean with the form's age would remove (an hour by default).
    page = admin_user_client.get(f"{Q}confirm/clean/", {"state": "completed"})
    assert "<strong>0</strong>" in page.content.decode()
    page = admin_user_client.get(f"{Q}confirm/clean/", {"state": "completed", "age": "0",
                                                        "unit": "s"})
    assert "<strong>2</strong>" in page.content.decode()
    assert admin_user_client.get(f"{Q}confirm/clean/", {"state": "active"}).status_code == 404
    # Nothing is an hour old yet.
    admin_user_client.post(f"{Q}actions/clean/", {"state": "completed", "age": "1", "unit": "h"})
    assert queue.get_job_counts("completed")["completed"] == 2
    admin_user_client.post(f"{Q}actions/clean/", {"state": "completed", "age": "0", "unit": "s"})
    assert queue.get_job_counts("completed")["completed"] == 0
    entry = last_audit()
    assert entry.count == 2
    assert sorted(entry.job_ids) == sorted(jobs["completed"])
    admin_user_client.post(f"{Q}actions/clean/", {"state": "bogus", "age": "0"})
    assert last_audit().outcome == "error"


def test_drain(admin_user_client: Client, queue: Any, jobs: dict[str, list[str]]) -> None:
    page = admin_user_client.get(f"{Q}confirm/drain/")
    assert "<strong>2</strong>" in page.content.decode()  # waiting + prioritized
    admin_user_client.post(f"{Q}actions/drain/")
    counts = queue.get_job_counts("waiting", "prioritized", "delayed")
    assert counts == {"waiting": 0, "prioritized": 0, "delayed": 1}
    admin_user_client.post(f"{Q}actions/drain/", {"delayed": "on"})
    assert queue.get_job_counts("delayed")["delayed"] == 0


def test_obliterate_needs_the_typed_name(
    admin_user_client: Client, queue: Any, jobs: dict[str, list[str]]
) -> None:
    page = admin_user_client.get(f"{Q}confirm/obliterate/").content.decode()
    assert 'data-confirm-name="emails"' in page
    wrong = admin_user_client.post(f"{Q}actions/obliterate/", {"confirm_name": "email"})
    assert wrong["Location"] == f"{Q}confirm/obliterate/"
    assert queue.count() > 0
    assert last_audit().outcome == "error"
    right = admin_user_client.post(f"{Q}actions/obliterate/", {"confirm_name": "emails"})
    assert right["Location"] == MOUNT
    assert queue.get_job_counts() == dict.fromkeys(queue.get_job_counts(), 0)
    assert last_audit().outcome == "ok"


def test_remove_scheduler_removes_it_and_audits(admin_user_client: Client, queue: Any) -> None:
    queue.upsert_job_scheduler("nightly", every=60_000, name="digest")
    assert queue.get_job_scheduler("nightly") is not None
    admin_user_client.post(f"{Q}schedulers/remove/", {"id": "nightly"})
    assert queue.get_job_scheduler("nightly") is None
    assert last_audit().outcome == "ok"


def test_removing_a_missing_scheduler_is_an_audited_error(
    admin_user_client: Client, queue: Any
) -> None:
    response = admin_user_client.post(f"{Q}schedulers/remove/", {"id": "nope"}, follow=True)
    assert response.status_code == 200
    assert "remove scheduler failed: job scheduler &#x27;nope&#x27; does not exist" in (
        response.content.decode()
    )
    entry = last_audit()
    assert (entry.action, entry.outcome, entry.job_ids) == ("remove scheduler", "error", ["nope"])


@pytest.mark.parametrize(
    ("path", "data", "needs"),
    [
        ("jobs/{failed}/retry/", {}, "retry"),
        ("jobs/{waiting}/remove/", {}, "remove"),
        ("jobs/{delayed}/promote/", {}, "promote"),
        ("actions/retry-all/", {}, "retry"),
        ("actions/promote-all/", {}, "promote"),
        ("actions/clean/", {"state": "completed", "age": "0", "unit": "s"}, "clean"),
        ("actions/pause/", {}, "pause"),
        ("actions/resume/", {}, "pause"),
        ("actions/drain/", {}, "drain"),
        ("actions/obliterate/", {"confirm_name": "emails"}, "obliterate"),
        ("schedulers/remove/", {"id": "x"}, "schedulers"),
    ],
)
def test_every_action_is_denied_without_its_permission(
    client: Client,
    make_user: Callable[..., User],
    queue: Any,
    jobs: dict[str, list[str]],
    path: str,
    data: dict[str, str],
    needs: str,
) -> None:
    url = Q + path.format(**{k: v[0] for k, v in jobs.items()})
    before = queue.get_job_counts()
    others = [
        a
        for a in (
            "retry",
            "remove",
            "promote",
            "clean",
            "pause",
            "drain",
            "obliterate",
            "schedulers",
        )
        if a != needs
    ]
    client.force_login(make_user("view", *others))
    assert client.post(url, data).status_code == 403
    assert queue.get_job_counts() == before
    entry = last_audit()
    assert entry.outcome == "denied"
    client.force_login(make_user(needs))  # the action permission without "view"
    assert client.post(url, data).status_code == 403
    client.force_login(make_user("view", needs, staff=False))
    assert client.post(url, data).status_code == 403
    client.logout()
    assert client.post(url, data).status_code == 403


def test_confirmation_pages_need_the_action_permission(
    client: Client, make_user: Callable[..., User], queue: Any
) -> None:
    client.force_login(make_user("view"))
    for action in ("retry-all", "promote-all", "clean", "drain", "obliterate"):
        assert client.get(f"{Q}confirm/{action}/").status_code == 403


def test_read_only_refuses_actions_and_hides_buttons(
    admin_user_client: Client, settings: Any, queue: Any, jobs: dict[str, list[str]]
) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "READ_ONLY": True}
    assert admin_user_client.post(f"{Q}actions/pause/").status_code == 403
    assert not queue.is_paused()
    body = admin_user_client.get(f"{Q}jobs/{jobs['failed'][0]}/").content.decode()
    assert "/retry/" not in body
    assert "actions/pause" not in admin_user_client.get(Q).content.decode()


@pytest.mark.parametrize("path", ["jobs/{failed}/retry/", "actions/pause/", "actions/retry-all/"])
def test_csrf_is_enforced(
    csrf_client: Client, queue: Any, jobs: dict[str, list[str]], path: str
) -> None:
    url = Q + path.format(failed=jobs["failed"][0])
    before = queue.get_job_counts()
    assert csrf_client.post(url).status_code == 403
    assert csrf_client.post(url, headers={"HX-Request": "true"}).status_code == 403
    assert queue.get_job_counts() == before
    assert not queue.is_paused()


def test_csrf_token_in_forms_is_accepted(csrf_client: Client, queue: Any) -> None:
    page = csrf_client.get(Q).content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = csrf_client.post(f"{Q}actions/pause/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 303
    assert queue.is_paused()


def test_gets_never_write(
    viewer_client: Client, queue: Any, jobs: dict[str, list[str]], r: Any
) -> None:
    """A tour of every read-only page leaves Redis exactly as it was."""
    snapshot = {k: r.type(k) for k in r.scan_iter(count=1000)}
    sizes = {k: r.execute_command("MEMORY", "USAGE", k) for k in snapshot}
    for path in (
        "",
        "default/q/emails/",
        "default/q/emails/?state=failed",
        f"default/q/emails/jobs/{jobs['failed'][0]}/",
        "default/workers/",
        "default/redis/",
        "default/q/emails/schedulers/",
        "health/",
    ):
        viewer_client.get(MOUNT + path)
    assert {k: r.type(k) for k in r.scan_iter(count=1000)} == snapshot
    assert {k: r.execute_command("MEMORY", "USAGE", k) for k in snapshot} == sizes
    assert AuditLog.objects.count() == 0
