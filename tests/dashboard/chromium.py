"""Debian's Chromium for the browser tests: its path, the flags this machine needs, where
screenshots go, and the check that it is installed (`make test` installs it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.waiting import TIMEOUT

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"


def require_chromium() -> None:
    """Fail the calling module when Chromium is missing: the browser tests are never skipped.

    Also gives Playwright's ``expect`` the suite's generous deadline: its own default (5 s,
    apart from the page's default timeout) is too short for a loaded machine."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing (scripts/bootstrap.sh --test, or "
                    "apt-get install chromium)", pytrace=False)
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT * 1000)


@contextmanager
def launched() -> Iterator[Browser]:
    """Chromium, headless with this machine's flags, for a module's pages (closed after)."""
    require_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
