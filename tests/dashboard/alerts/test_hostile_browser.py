"""The alert pages with hostile names, in headless Chromium (light and dark, 390 and 1440 px):
a 256-character queue name, markup, right-to-left text and a long rule name are clamped to a
few lines as on the rest of the dashboard (the whole name on hover, in ``title``), and no page
scrolls sideways. Screenshots go to test-artifacts/dashboard/alerts-hostile-*."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.chromium import ARTIFACTS, launched, require_chromium
from tests.dashboard.hostile import LONG_NAME, MARKUP_NAME, RTL_NAME
from tests.dashboard.livesite import MOUNT, LiveSite
from tests.waiting import TIMEOUT

require_chromium()

pytestmark = pytest.mark.timeout(180)
RULE_NAME = "<img src=x onerror=alert(1)> ‏مرحبا‎ " + "backlog-" * 24  # 200 characters
PATTERN = "very-long-queue-name-*" + "?" * 200

#: Rules, alerts in each status on hostile queues, and their history (events with details).
SEED = """
from django.contrib.auth.models import User
from django.utils import timezone
from dashboard.alerts.models import AlertEvent, AlertRule, AlertState
now = timezone.now()
owner = User.objects.filter(is_superuser=True).first()
rule = AlertRule.objects.create(name={rule!r}[:200], connection="default",
                                queue_pattern={pattern!r}[:256], kind="depth", threshold=1,
                                owner=owner, coverage="no_access")
single = AlertRule.objects.create(name="single " + {rule!r}[:150], connection="default",
                                  queue_pattern={long!r}, kind="failure_rate", threshold=5,
                                  email_to="ops@example.com", owner=owner)
first = None
for queue, status, error in (({long!r}, "firing", ""), ({markup!r}, "pending", ""),
                             ({rtl!r}, "firing", "x" * 600)):
    state = AlertState.objects.create(rule=rule, connection="default", queue=queue,
                                      status=status, value=123456.5, fired_at=now,
                                      breach_since=now, error=error, generation=1)
    first = first or state
    AlertEvent.objects.create(state=state, kind="fired", generation=1, value=123456.5,
                              transition="fired")
    AlertEvent.objects.create(state=state, kind="silenced", generation=1, username="u" * 150,
                              detail="until 2026-12-04 10:00 UTC")
print(first.pk)
"""


@pytest.fixture(scope="module")
def site(
    redis_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveSite, str, str]]:
    live = LiveSite(tmp_path_factory.mktemp("alerts-hostile"), redis_server.url)
    try:
        alert = live.django(SEED.format(rule=RULE_NAME, pattern=PATTERN, long=LONG_NAME,
                                        markup=MARKUP_NAME, rtl=RTL_NAME)).split()[-1]
        yield live, live.start_daphne().url, alert
    finally:
        live.close()


def _check_page(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"alerts-hostile-{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("document.documentElement.clientWidth")
    assert width <= viewport, f"{name}: page scrolls sideways: {width} > {viewport}"
    assert not page.locator("img[src=x]").count()
    # Every clamped or cut name holds the whole text, in its title too, and shows at most
    # three lines (clamped) or one (cut): measured in the page, in one round trip.
    boxes = page.evaluate("""() => [...document.querySelectorAll(
        ".qd-alerts-page .qd-clamp, .qd-alerts-page .qd-alerts-cut")].map(e => ({
            cut: e.classList.contains("qd-alerts-cut"), title: e.title,
            text: e.textContent.trim(),
            lines: e.getBoundingClientRect().height
                   / parseFloat(getComputedStyle(e).lineHeight)}))""")
    assert {b["cut"] for b in boxes} == {True, False}, name
    for box in boxes:
        assert box["title"] and box["text"] == box["title"].strip(), (name, box)
        most = 1.5 if box["cut"] else 3.5
        assert box["lines"] <= most, f"{name}: {box['title'][:40]!r}: {box['lines']:.1f} lines"


def test_hostile_names_are_clamped_on_the_alert_pages(
    site: tuple[LiveSite, str, str]
) -> None:
    live, base, alert = site
    with launched() as browser:
        for width in (390, 1440):
            for scheme in ("light", "dark"):
                context = browser.new_context(viewport={"width": width, "height": 900},
                                              color_scheme=scheme)
                context.add_cookies([{"name": "sessionid", "value": live.session,
                                      "url": base}])
                page = context.new_page()
                page.set_default_timeout(TIMEOUT * 1000)
                problems: list[str] = []
                page.on("pageerror", lambda exc, sink=problems: sink.append(str(exc)))
                page.goto(base + MOUNT + "alerts/")
                titles = page.locator(".qd-alerts-page [title]").evaluate_all(
                    "els => els.map(e => e.title)")
                for name in (LONG_NAME, MARKUP_NAME, RTL_NAME):
                    assert name in titles, name
                _check_page(page, f"index-{width}-{scheme}")
                if (width, scheme) in ((390, "light"), (1440, "dark")):
                    page.goto(f"{base}{MOUNT}alerts/{alert}/")
                    assert LONG_NAME in page.locator(".qd-alerts-page [title]").evaluate_all(
                        "els => els.map(e => e.title)")
                    _check_page(page, f"detail-{width}-{scheme}")
                assert problems == [], problems
                context.close()
