"""Editing jobs (the ``edit`` permission): add from the form, duplicate, change priority and
delay; bad JSON, oversized data and bad options refused inline with the input kept; audited,
CSRF protected, refused without the permission, and under the admin mount."""

from __future__ import annotations

import html
import json
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard.models import AuditLog
from queuecore import Queue
from tests.dashboard.conftest import MOUNT

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]

Q = f"{MOUNT}default/q/emails/"
ADMIN_Q = "/ops/admin/queue_dashboard/queuedashboard/default/q/emails/"
FORM = {"name": "send", "job_data": '{"to": "a@example.org"}', "priority": "", "delay": "",
        "attempts": "", "backoff_type": "", "backoff_delay": ""}


@pytest.fixture
def editor(make_user: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(make_user("view", "edit"))
    return client


def last_audit() -> AuditLog:
    entry = AuditLog.objects.order_by("-id").first()
    assert entry is not None
    return entry


def test_add_a_job_with_options(editor: Client, queue: Queue) -> None:
    assert editor.get(f"{Q}add/").status_code == 200
    response = editor.post(f"{Q}add/", {**FORM, "priority": "3", "attempts": "4",
                                        "backoff_type": "exponential", "backoff_delay": "500"})
    assert response.status_code == 303
    [job] = queue.get_jobs("prioritized")
    assert response["Location"] == f"{Q}jobs/{job.id}/"
    assert (job.name, job.data, job.priority) == ("send", {"to": "a@example.org"}, 3)
    assert job.opts["attempts"] == 4
    assert job.opts["backoff"] == {"type": "exponential", "delay": 500}
    entry = last_audit()
    assert (entry.action, entry.outcome, entry.job_ids) == ("add job", "ok", [job.id])
    delayed = editor.post(f"{Q}add/", {**FORM, "job_data": "", "delay": "60000"})
    assert delayed.status_code == 303
    [later] = queue.get_jobs("delayed")
    assert later.data is None


@pytest.mark.parametrize(("change", "error"), [
    ({"job_data": '{"to": '}, "Not valid JSON"),
    ({"job_data": "{'single': 1}"}, "Not valid JSON"),
    ({"job_data": "NaN"}, "Not valid JSON"),
    ({"job_data": "[" * 100_000}, "Not valid JSON: nested too deeply"),
    ({"name": ""}, "This field is required"),
    ({"priority": "-1"}, "greater than or equal to 0"),
    ({"priority": "9999999"}, "less than or equal to 2097151"),
    ({"attempts": "many"}, "Enter a whole number"),
    ({"backoff_type": "fixed"}, "A backoff needs a delay."),
    ({"backoff_type": "random", "backoff_delay": "5"}, "Select a valid choice"),
])
def test_bad_input_is_refused_inline_and_kept(editor: Client, queue: Queue,
                                              change: dict[str, str], error: str) -> None:
    response = editor.post(f"{Q}add/", {**FORM, **change})
    assert response.status_code == 400
    body = response.content.decode()
    assert error in body
    assert 'class="qd-field-error"' in body
    kept = change.get("job_data", FORM["job_data"])
    assert html.escape(kept) in body  # the input is kept
    assert queue.count() == 0


def test_oversized_data_is_refused(editor: Client, queue: Queue) -> None:
    big = json.dumps({"blob": "x" * (queue.max_data_size or 0)})
    response = editor.post(f"{Q}add/", {**FORM, "job_data": big})
    assert response.status_code == 400
    assert "this queue takes at most 524,288" in response.content.decode()
    assert queue.count() == 0


def test_duplicate_prefills_the_form(editor: Client, queue: Queue) -> None:
    original = queue.add("report", {"month": "<b>May</b>", "n": [1, 2]}, priority=7,
                         attempts=3, backoff={"type": "fixed", "delay": 250})
    page = editor.get(f"{Q}add/", {"from": original.id})
    assert page.status_code == 200
    form = page.context["form"]
    assert json.loads(form.initial["job_data"]) == {"month": "<b>May</b>", "n": [1, 2]}
    assert (form.initial["name"], form.initial["priority"], form.initial["attempts"]) == (
        "report", 7, 3)
    assert (form.initial["backoff_type"], form.initial["backoff_delay"]) == ("fixed", 250)
    assert "&lt;b&gt;May&lt;/b&gt;" in page.content.decode()
    response = editor.post(f"{Q}add/?from={original.id}", {
        **FORM, "name": "report", "job_data": form.initial["job_data"], "priority": "7"})
    assert response.status_code == 303
    assert queue.count() == 2
    assert f"from {original.id}" in last_audit().detail
    assert editor.get(f"{Q}add/", {"from": "nope"}).status_code == 404


def test_change_priority_and_delay(editor: Client, queue: Queue) -> None:
    job = queue.add("w", {})
    response = editor.post(f"{Q}jobs/{job.id}/edit/priority/", {"priority": "5"}, follow=True)
    assert [m.message for m in response.context["messages"]] == [
        f"Job {job.id} now has priority 5."]
    assert queue.get_job_state(job.id) == "prioritized"
    assert queue.get_job(job.id).priority == 5
    assert (last_audit().action, last_audit().outcome) == ("change priority", "ok")
    bad = editor.post(f"{Q}jobs/{job.id}/edit/priority/", {"priority": "high"}, follow=True)
    assert "Priority must be a whole number." in bad.content.decode()
    assert last_audit().outcome == "error"
    later = queue.add("later", {}, delay=3_600_000)
    editor.post(f"{Q}jobs/{later.id}/edit/delay/", {"delay": "1000"}, follow=True)
    assert queue.get_job(later.id).delay == 1000
    # A job no longer delayed: said calmly, nothing changed.
    calm = editor.post(f"{Q}jobs/{job.id}/edit/delay/", {"delay": "5"}, follow=True)
    [message] = list(calm.context["messages"])
    assert message.level_tag == "info" and "nothing was changed" in message.message
    assert editor.post(f"{Q}jobs/{job.id}/edit/colour/").status_code == 404


def test_edit_needs_the_permission(viewer_client: Client, queue: Queue) -> None:
    job = queue.add("w", {})
    assert viewer_client.get(f"{Q}add/").status_code == 403
    assert viewer_client.post(f"{Q}add/", FORM).status_code == 403
    assert viewer_client.post(f"{Q}jobs/{job.id}/edit/priority/", {"priority": "2"}
                              ).status_code == 403
    assert queue.get_job(job.id).priority == 0
    assert last_audit().outcome == "denied"
    body = viewer_client.get(f"{Q}jobs/{job.id}/").content.decode()
    assert "/edit/priority/" not in body and "/add/" not in body


def test_edit_is_csrf_protected(csrf_client: Client, queue: Queue) -> None:
    job = queue.add("w", {})
    assert csrf_client.post(f"{Q}add/", FORM).status_code == 403
    assert csrf_client.post(f"{Q}jobs/{job.id}/edit/priority/", {"priority": "2"}
                            ).status_code == 403
    assert queue.count() == 1 and queue.get_job(job.id).priority == 0


def test_edit_inside_the_admin_mount(admin_user_client: Client, queue: Queue) -> None:
    page = admin_user_client.get(f"{ADMIN_Q}add/")
    assert page.status_code == 200
    assert 'class="breadcrumbs"' in page.content.decode()
    response = admin_user_client.post(f"{ADMIN_Q}add/", FORM)
    [job] = queue.get_jobs("waiting")
    assert response["Location"] == f"{ADMIN_Q}jobs/{job.id}/"
    job_page = admin_user_client.get(response["Location"]).content.decode()
    assert f'action="{ADMIN_Q}jobs/{job.id}/edit/priority/"' in job_page
    assert f'href="{ADMIN_Q}add/?from={job.id}"' in job_page
