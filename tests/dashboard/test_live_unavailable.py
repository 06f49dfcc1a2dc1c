"""A page whose socket never opens (an asgi.py that routes no websockets: the browser sees a
404 handshake) stops reconnecting after a few tries and says live updates need the ASGI
server, linking the page that lists the steps. Screenshots: live-unavailable-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.chromium import ARGS, ARTIFACTS, CHROMIUM, require_chromium
from tests.dashboard.livesite import MOUNT, LiveSite

require_chromium()

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.timeout(180)

HTTP_ONLY = "tests.dashboard.asgi_variants:http_only"


@pytest.fixture
def site(redis_url: str, tmp_path: Path) -> Iterator[tuple[LiveSite, str]]:
    live = LiveSite(tmp_path, redis_url)
    try:
        yield live, live.start_daphne(HTTP_ONLY).url
    finally:
        live.close()


def test_the_pill_gives_up_and_links_the_steps(site: tuple[LiveSite, str]) -> None:
    live, base = site
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for width, scheme in ((1440, "light"), (390, "dark")):
                context = browser.new_context(viewport={"width": width, "height": 800},
                                              color_scheme=scheme)
                context.add_cookies([{"name": "sessionid", "value": live.session, "url": base}])
                page = context.new_page()
                page.set_default_timeout(30_000)
                sockets: list[Any] = []
                page.on("websocket", lambda ws, seen=sockets: seen.append(ws))
                page.goto(base + MOUNT + "default/q/emails/")
                status = page.locator("#qd-live-status")
                expect(status).to_have_text("offline: live updates need the ASGI server · how")
                expect(status.locator("a")).to_have_attribute("href", MOUNT + "help/live/")
                assert len(sockets) == 3
                # The element the extension reconnects for is gone: no further tries.
                expect(page.locator(".qd-live[ws-connect]")).to_have_count(0)
                page.screenshot(path=str(ARTIFACTS / f"live-unavailable-{width}-{scheme}.png"),
                                full_page=True)
                status.locator("a").click()
                expect(page.locator("h1")).to_have_text("Live updates need the ASGI server")
                context.close()
        finally:
            browser.close()
