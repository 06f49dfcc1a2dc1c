"""In Debian's headless Chromium against a real daphne: a page over the user's socket cap
shows a calm message (4409) and does not reconnect in a loop, while the user's other page
stays live. Screenshot: test-artifacts/dashboard/live-over-cap.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from queuecore import Queue
from tests.dashboard.chromium import ARGS, ARTIFACTS, CHROMIUM, require_chromium
from tests.dashboard.livesite import MOUNT, LiveSite

require_chromium()

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def site(redis_url: str, tmp_path: Path) -> Iterator[tuple[LiveSite, str]]:
    live = LiveSite(tmp_path, redis_url, settings={"LIVE_SOCKETS_PER_USER": 1})
    try:
        yield live, live.start_daphne().url
    finally:
        live.close()


def test_a_page_over_the_socket_cap_says_so_and_does_not_retry_in_a_loop(
    site: tuple[LiveSite, str], redis_url: str
) -> None:
    live, base = site
    queue = Queue("emails", connection=redis_url)
    queue.add("one", {})
    url = f"{base}{MOUNT}default/q/emails/"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_cookies([{"name": "sessionid", "value": live.session, "url": base}])
            first = context.new_page()
            first.set_default_timeout(30_000)
            first.goto(url)
            expect(first.locator("#qd-live-status")).to_have_text("live")

            second = context.new_page()
            second.set_default_timeout(30_000)
            sockets: list[object] = []
            second.on("websocket", lambda ws: sockets.append(ws))
            second.goto(url)
            status = second.locator("#qd-live-status")
            expect(status).to_have_attribute("data-state", "limited")
            expect(status).to_contain_text("too many live pages open")
            # On a busy machine a first handshake may fail and be retried (1006) before the
            # refusal (4409): count from the refusal on.
            refused_at = len(sockets)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            second.screenshot(path=str(ARTIFACTS / "live-over-cap.png"), full_page=True)

            # The first page stays live: a new job shows there. Meanwhile the second page
            # has not opened another socket since it was refused (it retries after a minute
            # or so, once).
            queue.add("two", {})
            expect(first.locator("#tab-count-waiting")).to_have_text("2")
            assert len(sockets) == refused_at
            expect(status).to_have_attribute("data-state", "limited")
            context.close()
            browser.close()
    finally:
        queue.close()
