"""Every user-visible string goes through Django's translation machinery, and the shipped
German catalogue (dashboard/locale/de) covers all of them: a page rendered in German says
German things, no template holds an untranslated visible literal, and makemessages finds no
string the catalogue lacks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from tests.dashboard.conftest import MOUNT

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard"
TEMPLATES = APP / "templates" / "queue_dashboard"
CATALOGUE = APP / "locale" / "de" / "LC_MESSAGES"

pytestmark = pytest.mark.django_db


def test_pages_render_in_german(admin_user_client: Client, queue: Any) -> None:
    job = queue.add("x", {})
    with translation.override("de"):
        overview = admin_user_client.get(MOUNT).content.decode()
        page = admin_user_client.get(f"{MOUNT}default/q/emails/").content.decode()
        missing = admin_user_client.get(f"{MOUNT}default/q/emails/jobs/nope/")
        job_page = admin_user_client.get(f"{MOUNT}default/q/emails/jobs/{job.id}/")
    assert "<h1>Warteschlangen</h1>" in overview and "Abmelden" in overview
    assert "Älteste wartend" in overview
    assert "wartend" in page and "fehlgeschlagen" in page and "Alle fehlgeschlagenen" in page
    assert missing.status_code == 404
    assert "Job nicht gefunden" in missing.content.decode()
    assert "Fortschritt" in job_page.content.decode()


def test_the_accept_language_header_picks_german(
    admin_user_client: Client, queue: Any, settings: Any
) -> None:
    """With Django's LocaleMiddleware (the host project's choice) the browser's language wins."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE]
    session = settings.MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware")
    settings.MIDDLEWARE.insert(session + 1, "django.middleware.locale.LocaleMiddleware")
    try:
        body = admin_user_client.get(MOUNT, headers={"accept-language": "de"}).content.decode()
    finally:
        translation.activate(settings.LANGUAGE_CODE)  # the middleware leaves German active
    assert 'lang="de"' in body and "Warteschlangen" in body


# Text an operator sees, outside template tags: between tags, and in these attributes.
VISIBLE_ATTRS = ("title", "aria-label", "placeholder", "hx-confirm", "alt", "data-label-auto")
TEMPLATE_BITS = re.compile(
    r"\{%\s*blocktranslate.*?\{%\s*endblocktranslate\s*%\}|\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}",
    re.S,
)
#: Words that are the same in every language here (a product and its settings' names).
SAME_EVERYWHERE = {"Redis", "maxmemory", "maxmemory-policy", "p50", "p95", "p99"}


def _visible_literals(source: str) -> list[str]:
    # The body's class names (admin_base.html) are not text.
    source = re.sub(r"\{% block bodyclass %\}.*?\{% endblock %\}", " ", source, flags=re.S)
    text = TEMPLATE_BITS.sub(" ", source)
    found = []
    for attr in VISIBLE_ATTRS:
        for value in re.findall(rf'\s{attr}="([^"]*)"', text):
            if re.search(r"[A-Za-z]", value):
                found.append(f'{attr}="{value}"')
    text = re.sub(r"<code>.*?</code>", " ", text, flags=re.S)  # code is not translated
    # A key cap names the key printed on it (j, k); keys with a word on them are translated.
    text = re.sub(r"<kbd>[^<]{1,3}</kbd>", " ", text)
    for chunk in re.split(r"<[^>]*>", text):
        chunk = " ".join(re.sub(r"&\w+;|[\u00b7\u203a\u2039|\u2013]", " ", chunk).split())
        if chunk and re.search(r"[A-Za-z]", chunk) and chunk not in SAME_EVERYWHERE:
            found.append(chunk)
    return found


def test_no_template_holds_an_untranslated_visible_literal() -> None:
    found = {
        str(path.relative_to(TEMPLATES)): literals
        for path in sorted(TEMPLATES.rglob("*.html"))
        if (literals := _visible_literals(path.read_text()))
    }
    assert not found, found


def test_the_checker_sees_a_literal() -> None:
    assert _visible_literals('<p>{% translate "ok" %} Hello</p>') == ["Hello"]
    assert _visible_literals('<a title="Open it">{{ x }}</a>') == ['title="Open it"']
    assert _visible_literals("<p>{% blocktranslate %}Hi {{ x }}{% endblocktranslate %}</p>") == []
    assert _visible_literals("<dt><kbd>j</kbd> <kbd>Enter</kbd></dt>") == ["Enter"]


def test_the_catalogue_covers_every_string_and_is_compiled(tmp_path: Path) -> None:
    """makemessages over a copy of the app: every msgid it extracts is translated."""
    for tool in ("xgettext", "msgmerge", "msgfmt"):
        assert shutil.which(tool), f"{tool} is missing (apt-get install gettext)"
    copy = tmp_path / "dashboard"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "de", "--no-location",
         "--no-obsolete"],
        cwd=copy, check=True, capture_output=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
             "DJANGO_SETTINGS_MODULE": "tests.dashboard.example_project.settings"},
    )
    stats = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null",
         str(copy / "locale" / "de" / "LC_MESSAGES" / "django.po")],
        check=True, capture_output=True, text=True,
    ).stderr
    assert "untranslated" not in stats and "fuzzy" not in stats, stats
    # The shipped .mo is compiled from the shipped .po (users need no gettext).
    po, mo = CATALOGUE / "django.po", CATALOGUE / "django.mo"
    fresh = tmp_path / "fresh.mo"
    subprocess.run(["msgfmt", "-o", str(fresh), str(po)], check=True)
    assert fresh.read_bytes() == mo.read_bytes(), "stale django.mo: msgfmt -o django.mo django.po"
