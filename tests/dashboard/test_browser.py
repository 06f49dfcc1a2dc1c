"""Debian's headless Chromium, driven by Playwright, on a live server: overview, a queue and a
job, then retry, remove and promote by clicking; screenshots go to test-artifacts/dashboard/.

Skipped only when /usr/bin/chromium is missing and CI is unset (in CI it must run)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.dashboard.chromium import ARGS, ARTIFACTS, CHROMIUM, require_chromium
from tests.dashboard.conftest import MOUNT
from tests.dashboard.jobs import populate

require_chromium()

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def browser_page(
    live_server: Any, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, list[str]]]:
    client = Client()
    client.force_login(make_user(superuser=True))
    session = client.cookies["sessionid"].value
    # The sync API keeps an event loop on this thread; the ORM work above is done already.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("dialog", lambda dialog: dialog.accept())
        page.on("console", lambda msg: _console(msg, problems))
        page.on("response", lambda response: _response(response, problems))
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        try:
            yield page, problems
        finally:
            context.close()
            browser.close()


@pytest.fixture(autouse=True)
def no_live_socket(settings: Any, dash_redis: str) -> None:
    """live_server is a WSGI server: no websockets (test_live_browser.py runs daphne)."""
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "LIVE": False}


@pytest.fixture
def jobs(dash_redis: str, queue: Any) -> dict[str, list[str]]:
    """Made before the browser starts: the worker needs its own event loop."""
    return populate(dash_redis, queue)


def _console(msg: Any, problems: list[str]) -> None:
    # Failed loads are reported with their URL by _response.
    if msg.type in ("error", "warning") and not msg.text.startswith("Failed to load resource"):
        problems.append(msg.text)


def _response(response: Any, problems: list[str]) -> None:
    if response.status >= 400 and not response.url.endswith("/favicon.ico"):
        problems.append(f"{response.status} {response.url}")


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_overview_queue_job_and_actions(
    live_server: Any, queue: Any, jobs: dict[str, list[str]], browser_page: tuple[Any, list[str]]
) -> None:
    page, problems = browser_page
    base = live_server.url + MOUNT

    page.goto(base)
    page.wait_for_selector('tr[data-queue="emails"]')
    shot(page, "overview")

    page.click('tr[data-queue="emails"] td:first-child a')
    page.wait_for_selector("#jobs")
    page.click('a[role="tab"]:has-text("failed")')  # an htmx swap of #jobs
    page.wait_for_selector(f'tr[data-job-id="{jobs["failed"][0]}"]')
    assert "state=failed" in page.url
    shot(page, "queue-failed")

    page.click("text=Retry all failed…")
    page.wait_for_selector("#dialog .qd-confirm-count")
    assert "1 job" in page.inner_text("#dialog .qd-confirm-count")
    shot(page, "confirm-retry-all")
    page.click("#dialog a[data-close-dialog]")

    page.click(f'tr[data-job-id="{jobs["failed"][0]}"] a')
    page.wait_for_selector("#job-state")
    shot(page, "job-failed")
    page.click('#job-actions button:has-text("Retry")')
    expect(page.locator("#job-state")).to_have_text("waiting")
    assert "moved back to waiting" in page.inner_text(".qd-messages")
    shot(page, "job-retried")

    page.goto(f"{base}default/q/emails/jobs/{jobs['delayed'][0]}/")
    page.click('#job-actions button:has-text("Promote")')
    expect(page.locator("#job-state")).to_have_text("waiting")
    shot(page, "job-promoted")

    removed = jobs["prioritized"][0]
    page.goto(f"{base}default/q/emails/jobs/{removed}/")
    page.click('#job-actions button:has-text("Remove")')
    page.wait_for_selector(".qd-messages")
    assert f"Job {removed} removed." in page.inner_text(".qd-messages")
    assert page.url.rstrip("/").endswith("/q/emails")
    shot(page, "job-removed")
    assert queue.get_job(removed) is None
    assert queue.get_job(jobs["delayed"][0]).get_state() == "waiting"

    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert not problems, problems


def test_admin_look_and_obliterate_typed_confirmation(
    live_server: Any, dash_redis: str, queue: Any, browser_page: tuple[Any, list[str]]
) -> None:
    queue.add("a", {"n": 1})
    page, problems = browser_page
    page.goto(live_server.url + "/ops/admin/")
    page.click("a[href$='/queue_dashboard/queuedashboard/']")
    page.wait_for_selector('tr[data-queue="emails"]')
    shot(page, "admin-overview")
    page.click('tr[data-queue="emails"] td:first-child a')
    page.click("text=Obliterate…")
    button = page.locator("#dialog button[type=submit]")
    page.wait_for_selector("#dialog input[name=confirm_name]")
    assert button.is_disabled()
    page.fill("#dialog input[name=confirm_name]", "emails")
    assert button.is_enabled()
    shot(page, "admin-obliterate-confirm")
    button.click()
    page.wait_for_selector(".messagelist, .qd-messages")
    assert queue.count() == 0
    assert not problems, problems
