"""Vendored JavaScript is pinned, and no template carries inline script."""

from __future__ import annotations

import re
from pathlib import Path

import dashboard
from dashboard.vendor import HTMX_PATH, HTMX_VERSION

APP = Path(dashboard.__file__).parent
STATIC = APP / "static"
TEMPLATES = APP / "templates"


def test_vendored_htmx_version_matches_the_pin() -> None:
    source = (STATIC / HTMX_PATH).read_text(encoding="utf-8")
    assert f'version:"{HTMX_VERSION}"' in source
    assert HTMX_VERSION.startswith("2.")
    assert (STATIC / HTMX_PATH).with_name("LICENSE").is_file()


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
