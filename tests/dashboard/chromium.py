"""Debian's Chromium for the browser tests: its path, the flags this machine needs, where
screenshots go, and the rule that it may be missing only outside CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
    """Skip the calling module when Chromium is missing, unless CI is set (then it fails)."""
    if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
        pytest.skip("Debian's chromium is missing (apt-get install chromium)",
                    allow_module_level=True)
