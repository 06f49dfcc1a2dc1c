"""Controls that stay true: a repeated action is answered calmly (info, audited, nothing
touched), the operator goes back to the tab, page and sort acted from, and the clean
confirmation counts what the clean removes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import resolve, set_script_prefix

from dashboard import controls
from dashboard.models import AuditLog
from queuecore import Queue
from tests.dashboard.conftest import MOUNT
from tests.dashboard.jobs import populate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]

Q = f"{MOUNT}default/q/emails/"
ADMIN_Q = "/ops/admin/queue_dashboard/queuedashboard/default/q/emails/"


def messages_of(response: Any) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def last_audit() -> AuditLog:
    entry = AuditLog.objects.order_by("-id").first()
    assert entry is not None
    return entry


def test_double_promote_is_answered_calmly(admin_user_client: Client, queue: Queue) -> None:
    job = queue.add("later", {}, delay=60_000)
    first = admin_user_client.post(f"{Q}jobs/{job.id}/promote/", follow=True)
    assert messages_of(first) == [("success", f"Job {job.id} promoted.")]
    second = admin_user_client.post(f"{Q}jobs/{job.id}/promote/", follow=True)
    assert messages_of(second) == [
        ("info", f"Job {job.id} was already promoted (it is waiting now).")]
    entry = last_audit()
    assert (entry.action, entry.outcome, entry.count) == ("promote job", "ok", 0)
    assert "already promoted" in entry.detail


def test_double_retry_and_remove_are_answered_calmly(
    dash_redis: str, admin_user_client: Client, queue: Queue
) -> None:
    jobs = populate(dash_redis, queue)
    failed = jobs["failed"][0]
    admin_user_client.post(f"{Q}jobs/{failed}/retry/", follow=True)
    again = admin_user_client.post(f"{Q}jobs/{failed}/retry/", follow=True)
    assert messages_of(again) == [("info", f"Job {failed} was already retried (it is waiting "
                                           "now).")]
    waiting = jobs["waiting"][0]
    admin_user_client.post(f"{Q}jobs/{waiting}/remove/", follow=True)
    gone = admin_user_client.post(f"{Q}jobs/{waiting}/remove/", follow=True)
    assert messages_of(gone) == [("info", f"Job {waiting} was already removed.")]
    assert gone.redirect_chain[-1][0] == Q


def test_a_real_error_stays_an_error(admin_user_client: Client, queue: Queue) -> None:
    job = queue.add("later", {}, delay=60_000)
    response = admin_user_client.post(f"{Q}jobs/{job.id}/retry/", follow=True)
    [(level, text)] = messages_of(response)
    assert level == "error" and text.startswith("retry job failed")
    assert last_audit().outcome == "error"


def test_double_pause_and_resume(admin_user_client: Client, queue: Queue) -> None:
    admin_user_client.post(f"{Q}actions/pause/", follow=True)
    again = admin_user_client.post(f"{Q}actions/pause/", follow=True)
    assert messages_of(again) == [("info", "Queue emails was already paused.")]
    assert queue.is_paused()
    admin_user_client.post(f"{Q}actions/resume/", follow=True)
    again = admin_user_client.post(f"{Q}actions/resume/", follow=True)
    assert messages_of(again) == [("info", "Queue emails was already running.")]
    assert not queue.is_paused()


def test_back_to_the_tab_page_and_sort(admin_user_client: Client, queue: Queue) -> None:
    view = f"{Q}?state=failed&page=2&order=oldest"
    response = admin_user_client.post(f"{Q}actions/pause/", HTTP_REFERER=f"http://testserver{view}")
    assert response["Location"] == view
    # htmx: the page it came from says so; the client is sent back to that view.
    response = admin_user_client.post(f"{Q}actions/resume/", HTTP_HX_REQUEST="true",
                                      HTTP_HX_CURRENT_URL=f"http://testserver{view}")
    assert response["HX-Redirect"] == view


@pytest.mark.parametrize("referer", [
    "http://evil.example/ops/tools/queues/default/q/emails/?state=failed",
    f"http://testserver{MOUNT}default/q/reports/?state=failed",  # another queue
    f"http://testserver{MOUNT}default/q/emails/confirm/clean/",  # not a list view
    "http://testserver/dashboard/",
    "javascript:alert(1)",
    "not a url at all",
])
def test_anything_else_falls_back(admin_user_client: Client, queue: Queue, referer: str) -> None:
    response = admin_user_client.post(f"{Q}actions/pause/", HTTP_REFERER=referer)
    assert response["Location"] == Q


def test_back_inside_the_admin_mount(admin_user_client: Client, queue: Queue) -> None:
    view = f"{ADMIN_Q}?state=delayed&order=oldest"
    response = admin_user_client.post(f"{ADMIN_Q}actions/pause/",
                                      HTTP_REFERER=f"http://testserver{view}")
    assert response["Location"] == view
    # A referer into the plain mount is not this mount's page.
    response = admin_user_client.post(f"{ADMIN_Q}actions/resume/",
                                      HTTP_REFERER=f"http://testserver{Q}?state=delayed")
    assert response["Location"] == ADMIN_Q


def test_clean_confirmation_counts_what_clean_removes(
    admin_user_client: Client, queue: Queue, settings: Any
) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "CLEAN_LIMIT": 3}
    for i in range(5):
        queue.add("w", {"n": i})
    params = {"state": "waiting", "age": "0", "unit": "s"}
    page = admin_user_client.get(f"{Q}confirm/clean/", params).content.decode()
    assert "<strong>3</strong>" in page  # the limit, not the 5 waiting
    assert "Up to 3 of the 5 waiting jobs" in page
    hour = admin_user_client.get(f"{Q}confirm/clean/", {**params, "age": "1", "unit": "h"})
    assert "<strong>0</strong>" in hour.content.decode()  # none is an hour old
    admin_user_client.post(f"{Q}actions/clean/", params)
    assert last_audit().count == 3
    assert queue.get_job_counts("waiting")["waiting"] == 2
    again = admin_user_client.get(f"{Q}confirm/clean/", params).content.decode()
    assert "<strong>2</strong>" in again
    admin_user_client.post(f"{Q}actions/clean/", params)
    assert last_audit().count == 2
    bad_unit = admin_user_client.get(f"{Q}confirm/clean/", {**params, "unit": "x"})
    assert bad_unit.status_code == 200  # ignored: the form's default (hours) is counted
    assert "<strong>0</strong>" in bad_unit.content.decode()


def test_stale_buttons_are_rendered_hidden_for_the_script(admin_user_client: Client,
                                                          queue: Queue) -> None:
    """Every button the user may use is on the page, those of other states hidden, each
    saying the states it is for (controls.js shows them as the live state moves)."""
    job = queue.add("later", {}, delay=60_000)
    body = admin_user_client.get(f"{Q}jobs/{job.id}/").content.decode()
    assert 'data-qd-states="delayed" action="' in body
    assert f'data-qd-states="failed completed" action="{Q}jobs/{job.id}/retry/"' in body
    retry = body[body.index('data-qd-states="failed completed"'):]
    assert retry[:retry.index(">")].endswith("hidden")
    page = admin_user_client.get(Q).content.decode()
    assert 'data-qd-paused="1"' in page and 'data-qd-paused="0"' in page


def test_back_under_a_script_prefix(rf: RequestFactory) -> None:
    """Behind a proxy that mounts the site at /shop (a script prefix), the way back keeps
    the prefix and still checks the page is this queue's."""
    set_script_prefix("/shop/")
    try:
        view = f"/shop{Q}?state=completed&page=3"
        request = rf.post("/", HTTP_REFERER=f"http://testserver{view}")
        request.resolver_match = resolve(f"{Q}actions/pause/")
        assert controls.back_url(request, "fallback", "default", "emails") == view
        outside = rf.post("/", HTTP_REFERER=f"http://testserver{Q}?state=failed")
        outside.resolver_match = request.resolver_match
        assert controls.back_url(outside, "fallback", "default", "emails") == "fallback"
    finally:
        set_script_prefix("/")
