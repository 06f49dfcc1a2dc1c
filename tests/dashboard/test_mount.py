"""Namespacing: the host project's own "dashboard" app is undisturbed, and the app mounts
anywhere (here at /ops/tools/queues/); the standalone site mounts it at /queues/."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.test import Client, override_settings
from django.urls import reverse

from tests.dashboard.conftest import MOUNT

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]


def test_labels_and_namespaces_do_not_clash() -> None:
    assert apps.get_app_config("dashboard").name == "tests.dashboard.example_project.hostdash"
    assert apps.get_app_config("queue_dashboard").name == "dashboard"
    assert reverse("dashboard:home") == "/dashboard/"
    assert reverse("queue_dashboard:overview") == MOUNT


def test_host_dashboard_still_renders_its_own_template(client: Client) -> None:
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert 'id="host-dashboard"' in response.content.decode()


def test_links_follow_the_mount(viewer_client: Client, queue: Any) -> None:
    queue.add("a", {})
    body = viewer_client.get(MOUNT + "default/q/emails/").content.decode()
    assert f'action="{MOUNT}default/q/emails/jump/"' in body
    assert 'href="/queues/' not in body


@override_settings(ROOT_URLCONF="config.urls")
def test_standalone_site_urls(viewer_client: Client, queue: Any) -> None:
    queue.add("a", {})
    assert reverse("queue_dashboard:overview") == "/queues/"
    assert viewer_client.get("/").status_code == 302
    assert viewer_client.get("/queues/default/q/emails/").status_code == 200
