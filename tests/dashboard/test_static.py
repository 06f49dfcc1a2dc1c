"""Vendored JavaScript is pinned, and no template carries inline script."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import dashboard
from dashboard.vendor import (
    HTMX_EXT_WS_PATH,
    HTMX_EXT_WS_SHA256,
    HTMX_EXT_WS_VERSION,
    HTMX_PATH,
    HTMX_VERSION,
)

APP = Path(dashboard.__file__).parent
STATIC = APP / "static"
TEMPLATES = APP / "templates"


def test_vendored_htmx_version_matches_the_pin() -> None:
    source = (STATIC / HTMX_PATH).read_text(encoding="utf-8")
    assert f'version:"{HTMX_VERSION}"' in source
    assert HTMX_VERSION.startswith("2.")
    assert (STATIC / HTMX_PATH).with_name("LICENSE").is_file()


def test_vendored_ws_extension_matches_the_pin() -> None:
    path = STATIC / HTMX_EXT_WS_PATH
    assert hashlib.sha256(path.read_bytes()).hexdigest() == HTMX_EXT_WS_SHA256
    assert 'htmx.defineExtension("ws"' in path.read_text(encoding="utf-8")
    # htmx-ext-ws 2.x is the extension for htmx 2.x.
    assert HTMX_EXT_WS_VERSION.split(".")[0] == HTMX_VERSION.split(".")[0] == "2"
    assert path.with_name("LICENSE").is_file()


def test_templates_have_no_inline_scripts_or_handlers() -> None:
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<script\b[^>]*>", text):
            assert "src=" in match.group(0), f"inline script in {path}"
        assert not re.search(r"\son[a-z]+=", text), f"inline event handler in {path}"
        assert "hx-on" not in text, path
        assert "|safe" not in text, path
        assert "mark_safe" not in text, path
        assert "style=" not in text, f"inline style in {path} (CSP forbids it)"


def test_templates_and_static_are_namespaced() -> None:
    assert {p.name for p in TEMPLATES.iterdir()} == {"queue_dashboard"}
    assert {p.name for p in STATIC.iterdir()} == {"queue_dashboard"}
