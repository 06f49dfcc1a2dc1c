"""The admin entry: index link for permitted staff, the dashboard in admin's look, audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from dashboard import audit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]

ADMIN = "/ops/admin/"
ENTRY = f"{ADMIN}queue_dashboard/queuedashboard/"


def test_index_entry_only_for_permitted_staff(
    client: Client, make_user: Callable[..., User]
) -> None:
    client.force_login(make_user("view"))
    assert ENTRY in client.get(ADMIN).content.decode()
    client.force_login(make_user())
    assert ENTRY not in client.get(ADMIN).content.decode()


def test_changelist_url_opens_the_overview_in_admin_look(viewer_client: Client, queue: Any) -> None:
    queue.add("a", {})
    assert reverse("admin:queue_dashboard_queuedashboard_changelist") == ENTRY
    response = viewer_client.get(ENTRY)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="site-name"' in body  # admin's header
    assert f'href="{ENTRY}default/q/emails/"' in body  # links stay inside the admin mount


def test_admin_pages_and_actions(admin_user_client: Client, queue: Any) -> None:
    job = queue.add("a", {"k": "v"}, delay=60_000)
    page = admin_user_client.get(f"{ENTRY}default/q/emails/jobs/{job.id}/")
    assert page.status_code == 200
    assert 'class="breadcrumbs"' in page.content.decode()
    response = admin_user_client.post(f"{ENTRY}default/q/emails/jobs/{job.id}/promote/")
    assert response.status_code == 303
    assert response["Location"] == f"{ENTRY}default/q/emails/jobs/{job.id}/"
    assert queue.get_job(job.id).get_state() == "waiting"
    for path in (
        "default/q/emails/",
        "default/workers/",
        "default/redis/",
        "default/q/emails/confirm/drain/",
        "default/q/emails/schedulers/",
    ):
        assert admin_user_client.get(ENTRY + path).status_code == 200, path


def test_admin_mount_needs_staff_login(client: Client, make_user: Callable[..., User]) -> None:
    response = client.get(ENTRY)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{ADMIN}login/")
    client.force_login(make_user())
    assert client.get(ENTRY).status_code == 403


def test_audit_log_is_listed_read_only(
    admin_user_client: Client, make_user: Callable[..., User]
) -> None:
    entry = audit.record(make_user(), "pause", outcome="ok", connection="default", queue="q<1>")
    listing = admin_user_client.get(f"{ADMIN}queue_dashboard/auditlog/")
    assert listing.status_code == 200
    assert "q&lt;1&gt;" in listing.content.decode()
    assert admin_user_client.get(f"{ADMIN}queue_dashboard/auditlog/add/").status_code == 403
    detail = admin_user_client.get(f"{ADMIN}queue_dashboard/auditlog/{entry.pk}/change/")
    assert detail.status_code == 200
