"""``make demo``'s login: a stable password on loopback, a random one elsewhere, and one box
with the URL and credentials (the server's access log goes to a file, not the terminal)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_script", ROOT / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_password_is_stable_on_loopback_and_random_elsewhere() -> None:
    demo = _demo()
    for host in ("127.0.0.1", "127.0.0.2", "localhost"):
        assert demo.demo_password(host) == demo.DEMO_PASSWORD
    first, second = demo.demo_password("0.0.0.0"), demo.demo_password("192.168.1.5")
    assert first != demo.DEMO_PASSWORD and second != demo.DEMO_PASSWORD and first != second
    assert demo.DEMO_PASSWORD in (ROOT / "docs" / "dashboard.md").read_text()


def test_the_banner_shows_url_and_credentials_once() -> None:
    demo = _demo()
    text = demo.banner("http://127.0.0.1:8000", "pw-123", "redis://127.0.0.1:6390/0")
    assert text.count("http://127.0.0.1:8000/queues/") == 1
    assert text.count("pw-123") == 1
    assert "daphne.log" in text  # where the access log went
    source = (ROOT / "scripts" / "demo.py").read_text()
    assert "stdout=server_log" in source
