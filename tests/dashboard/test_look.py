"""The standalone layout's header (user, logout, audit log, admin, theme toggle), the theme
applied before the first paint by a static script, and counts styled by value."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard.templatetags.qd_look import qd_count
from tests.dashboard.conftest import MOUNT

pytestmark = pytest.mark.django_db

STATIC = Path(__file__).resolve().parents[2] / "dashboard" / "static" / "queue_dashboard"


def test_the_header_links_what_a_superuser_may_use(
    admin_user_client: Client, queue: Any
) -> None:
    body = admin_user_client.get(MOUNT).content.decode()
    assert '<form method="post" action="/ops/admin/logout/">' in body
    assert 'href="/ops/admin/queue_dashboard/auditlog/"' in body
    assert 'href="/ops/admin/"' in body
    assert 'id="qd-theme-toggle"' in body
    # The theme script is synchronous in <head> (before first paint); not deferred.
    head = body.split("</head>")[0]
    assert 'src="/static/queue_dashboard/theme.js"></script>' in head
    assert "<script>" not in body  # no inline script (the CSP forbids them)


def test_a_viewer_without_the_audit_permission_sees_no_audit_link(
    make_user: Callable[..., User], queue: Any
) -> None:
    client = Client()
    client.force_login(make_user("view"))
    body = client.get(MOUNT).content.decode()
    assert "auditlog" not in body
    assert "Log out" in body


def test_inside_admin_admin_keeps_its_own_theme(admin_user_client: Client, queue: Any) -> None:
    body = admin_user_client.get("/ops/admin/queue_dashboard/queuedashboard/").content.decode()
    assert "qd-admin" in body
    assert "queue_dashboard/theme.js" not in body  # admin's own theme.js decides


def test_counts_are_muted_at_zero_and_failures_stand_out() -> None:
    assert qd_count(0, "waiting") == "qd-n qd-zero"
    assert qd_count(0, "failed") == "qd-n qd-zero"
    assert qd_count(3, "failed") == "qd-n qd-has-failed"
    assert qd_count(3, "waiting") == "qd-n"
    assert qd_count(None, "waiting") == "qd-n"


def test_tab_counts_carry_their_state_and_zero(admin_user_client: Client, queue: Any) -> None:
    queue.add("x", {})
    body = admin_user_client.get(f"{MOUNT}default/q/emails/").content.decode()
    assert 'class="qd-count qd-state-waiting qd-n" id="tab-count-waiting">1<' in body
    assert 'class="qd-count qd-state-failed qd-n qd-zero" id="tab-count-failed">0<' in body


def test_every_state_has_its_tokens_in_both_themes() -> None:
    css = (STATIC / "dashboard.css").read_text()
    light, dark = css.split('html[data-theme="dark"] {', 1)
    dark_block = dark.split("}", 1)[0]
    for token in ("bg", "surface", "surface-2", "border", "text", "text-muted", "link",
                  "accent", "focus"):
        assert f"--qd-{token}:" in light and f"--qd-{token}:" in dark_block, token
    for state in ("failed", "active", "delayed", "waiting", "prioritized", "waiting-children",
                  "completed", "paused"):
        for suffix in ("", "-bg"):
            assert f"--qd-{state}{suffix}:" in light, state
            assert f"--qd-{state}{suffix}:" in dark_block, state
        assert f".qd-badge.qd-state-{state}" in css


AXE_DIR = Path(__file__).resolve().parent / "vendor" / "axe-core"
AXE_VERSION = "4.10.3"
AXE_SHA256 = "880970c081707360e64f34cea25ff91892f5bc95675b0776925b9709dd8a68bb"


def test_the_vendored_axe_core_matches_its_pin() -> None:
    """Tests only (tests/dashboard/vendor/README.md): the file, its version and licence."""
    source = (AXE_DIR / "axe.min.js").read_bytes()
    assert source.startswith(f"/*! axe v{AXE_VERSION}".encode())
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256
    assert "Mozilla Public License" in (AXE_DIR / "LICENSE").read_text()
    assert not list(STATIC.rglob("axe*"))  # never among the shipped static files
