"""Every page in headless Chromium with the hostile data set (tests/dashboard/hostile.py):
axe-core (vendored for tests only, tests/dashboard/vendor/axe-core) finds no serious or
critical violation in light and dark, and no page scrolls sideways at 390 or 1440 px.

One Redis, one daphne and one browser for the module; each page is loaded twice (light at
1440 px, dark at 390 px) and checked both times."""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from tests.dashboard.chromium import ARGS, CHROMIUM, require_chromium
from tests.dashboard.hostile import EMAILS, LONG_NAME, MARKUP_NAME, RTL_NAME, Seeded, seed
from tests.dashboard.livesite import LiveSite
from tests.redisproc import RedisProcess
from tests.waiting import TIMEOUT

require_chromium()

from playwright.sync_api import sync_playwright  # noqa: E402

pytestmark = pytest.mark.timeout(300)

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
WIDE, NARROW = 1440, 390
#: Impacts that fail the test; "moderate" and "minor" are reported in the failure message only.
BLOCKING = ("serious", "critical")
NOT_FOUND = ("missing-job", "unknown-connection")


def _u(name: str, *args: str) -> str:
    return reverse(f"queue_dashboard:{name}", args=args)


def pages(ids: dict[str, str]) -> dict[str, str]:
    """Every page kind of the dashboard, on the hostile data set."""
    found = {
        "overview": _u("overview"),
        "job-completed": _u("job", "default", EMAILS, ids["completed"]),
        "job-failed": _u("job", "default", EMAILS, ids["failed"]),
        "job-long-log": _u("job", "default", EMAILS, ids["long_log"]),
        "job-parent": _u("job", "default", EMAILS, ids["parent"]),
        "queue-long-name": _u("queue", "default", LONG_NAME),
        "queue-markup": _u("queue", "default", MARKUP_NAME),
        "queue-rtl": _u("queue", "default", RTL_NAME),
        "workers": _u("workers", "default"),
        "redis": _u("redis", "default"),
        "schedulers": _u("schedulers", "default", EMAILS),
        "live-help": _u("live-help"),
        "confirm-obliterate": _u("confirm", "default", EMAILS, "obliterate"),
        "confirm-clean": _u("confirm", "default", EMAILS, "clean") + "?state=failed",
        "missing-job": _u("job", "default", EMAILS, "no-such-job"),
        "unknown-queue": _u("queue", "default", "emials"),
        "unknown-connection": _u("workers", "nowhere"),
        "admin-overview": "/ops/admin/queue_dashboard/queuedashboard/",
        # The parts added later: failures, bulk, add job, search, history, alerts.
        "failures": _u("failures", "default", EMAILS),
        "bulk-dry-run": _u("bulk-confirm", "default", EMAILS, "retry")
        + "?source=state&state=failed",
        "add-job": _u("add-job", "default", EMAILS),
        "search": _u("queue", "default", EMAILS) + "?state=completed&q=welcome",
        "search-error": _u("queue", "default", EMAILS) + "?state=failed&q=data.%5B",
        "import": _u("import", "default", EMAILS),
        "transfer": _u("transfer", "default", EMAILS),
        "history": _u("history", "default"),
        "queue-history": _u("queue-history", "default", EMAILS),
        "alerts": _u("alerts"),
        "alert": _u("alert", ids["alert"]),
        "alert-rule-form": _u("alert-rule-edit", ids["rule"]),
        "alert-webhook-form": _u("alert-webhook-new"),
    }
    for state in ("waiting", "active", "prioritized", "delayed", "waiting-children",
                  "completed", "failed"):
        found[f"queue-{state}"] = _u("queue", "default", EMAILS) + f"?state={state}"
    return found


#: Alert rules with hostile names, a webhook, a firing alert and one that cannot be evaluated.
ALERTS = """
from django.utils import timezone
from dashboard.alerts.models import AlertRule, AlertState, Webhook
hook = Webhook.objects.create(name="ops-" + "w" * 90, url="https://example.invalid/" + "p" * 300)
rule = AlertRule.objects.create(name="Backlog <b>x</b> " + "ž" * 60, connection="default",
                                queue_pattern="*", kind="depth", threshold=1,
                                email_to="a@example.com, " + "b" * 200 + "@example.com")
rule.webhooks.add(hook)
state = AlertState.objects.create(rule=rule, connection="default", queue={long!r},
                                  status="firing", value=123456, fired_at=timezone.now(),
                                  generation=1)
AlertState.objects.create(rule=rule, connection="default", queue={rtl!r}, status="firing",
                          value=3, fired_at=timezone.now(), error="x" * 2000, generation=1)
print(rule.pk, state.pk)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Seeded]]:
    server = RedisProcess().start()
    live = None
    try:
        seeded = seed(server.url)
        live = LiveSite(tmp_path_factory.mktemp("look"), server.url)
        made = live.django(ALERTS.format(long=LONG_NAME, rtl=RTL_NAME)).split()
        seeded.ids["rule"], seeded.ids["alert"] = made[-2], made[-1]
        yield live.start_daphne().url, live.session, seeded
    finally:
        if live is not None:
            live.close()
        server.close()


@pytest.fixture(scope="module")
def browser(site: tuple[str, str, Seeded]) -> Iterator[Any]:
    base, session, _ = site
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = chromium.new_context(viewport={"width": WIDE, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
        # Through the DevTools protocol, so the page's CSP (no inline scripts) allows it.
        context.add_init_script(path=str(AXE))
        page = context.new_page()
        page.set_default_timeout(TIMEOUT * 1000)
        try:
            yield page
        finally:
            context.close()
            chromium.close()


def axe_problems(page: Any) -> list[str]:
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + " :: " +
                                               (n.failureSummary || "").slice(0, 300))}));
        }"""
    )
    return [json.dumps(v)[:1200] for v in result if v["impact"] in BLOCKING]


def side_scroll(page: Any) -> tuple[int, int]:
    return page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )


def test_every_page_passes_axe_and_never_scrolls_sideways(
    site: tuple[str, str, Seeded], browser: Any
) -> None:
    base, _, seeded = site
    page = browser
    failures: list[str] = []
    for name, path in pages(seeded.ids).items():
        for scheme, width in (("light", WIDE), ("dark", NARROW)):
            page.emulate_media(color_scheme=scheme)
            page.set_viewport_size({"width": width, "height": 900})
            response = page.goto(base + path, wait_until="load")
            assert response is not None
            expected = 404 if name in NOT_FOUND else 200
            assert response.status == expected, (name, response.status)
            theme = page.evaluate(
                "() => getComputedStyle(document.documentElement).colorScheme"
            )
            if not name.startswith("admin"):
                assert theme == scheme, (name, theme)
            scroll, client = side_scroll(page)
            if scroll > client:
                failures.append(f"{name} {scheme} {width}px: scrollWidth {scroll} > {client}")
            failures += [f"{name} {scheme}: {p}" for p in axe_problems(page)]
    # A bulk operation's page: the dry run's confirm button starts one (it retries the
    # failed jobs, so it comes last).
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": WIDE, "height": 900})
    page.goto(base + pages(seeded.ids)["bulk-dry-run"])
    page.locator(".qd-bulk-run-form button[type=submit]").first.click()
    page.wait_for_url("**/ops/**")
    for scheme, width in (("light", WIDE), ("dark", NARROW)):
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        scroll, client = side_scroll(page)
        if scroll > client:
            failures.append(f"bulk-op {scheme} {width}px: scrollWidth {scroll} > {client}")
        failures += [f"bulk-op {scheme}: {p}" for p in axe_problems(page)]
    assert not failures, "\n".join(failures)


def test_the_toggle_cycles_auto_light_dark_and_is_kept(
    site: tuple[str, str, Seeded], browser: Any
) -> None:
    base, _, _ = site
    page = browser
    page.emulate_media(color_scheme="light")
    page.goto(base + _u("overview"))
    html = page.locator("html")
    assert html.get_attribute("data-theme") == "auto"
    toggle = page.locator("#qd-theme-toggle")
    toggle.click()
    assert html.get_attribute("data-theme") == "light"
    toggle.click()
    assert html.get_attribute("data-theme") == "dark"
    page.reload()  # kept in localStorage, applied before the first paint
    assert html.get_attribute("data-theme") == "dark"
    assert page.evaluate("() => getComputedStyle(document.body).colorScheme") == "dark"
    toggle.click()
    assert html.get_attribute("data-theme") == "auto"


DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _png_stats(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values of a PNG's pixel data (its
    filtered scanlines): a blank page has a handful, a page with text and colour hundreds."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, width, height, pixels = 8, 0, 0, b""
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
        elif kind == b"IDAT":
            pixels += body
        pos += 12 + length
    return width, height, len(set(zlib.decompress(pixels)))


def test_screenshots_of_the_main_pages(
    site: tuple[str, str, Seeded], browser: Any, tmp_path: Path
) -> None:
    """The screenshots in docs/screenshots/: written there with QD_UPDATE_SCREENSHOTS=1,
    otherwise to a temporary folder; either way each must show a rendered page."""
    base, _, seeded = site
    page = browser
    target = DOCS_SHOTS if os.environ.get("QD_UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    shots = {
        "overview": _u("overview"),
        "queue": _u("queue", "default", EMAILS) + "?state=failed",
        "job": _u("job", "default", EMAILS, seeded.ids["failed_short"]),
        "failures": _u("failures", "default", EMAILS),
        "search": _u("queue", "default", EMAILS) + "?state=completed&q=welcome",
    }
    made = []
    for name, path in shots.items():
        for scheme in ("light", "dark"):
            made.append((f"{name}-{scheme}-1440.png", path, scheme, WIDE, 900))
    made.append(("queue-light-390.png", shots["queue"], "light", NARROW, 844))
    made.append(("job-dark-390.png", shots["job"], "dark", NARROW, 844))
    for filename, path, scheme, width, height in made:
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size({"width": width, "height": height})
        page.goto(base + path)
        # The live status settles (its dot is part of the picture).
        page.wait_for_function(
            "() => document.getElementById('qd-live-status')?.dataset.state !== 'connecting'"
        )
        if filename.startswith("search"):  # its results come in scan steps
            page.wait_for_selector("#qd-search-rows tr")
        data = page.screenshot(path=str(target / filename))
        shot_width, shot_height, distinct = _png_stats(data)
        assert (shot_width, shot_height) == (width, height), filename
        assert distinct > 40, f"{filename} looks blank ({distinct} distinct bytes)"
