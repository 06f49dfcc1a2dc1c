"""A JSON value as a foldable tree of ``<details>`` elements, built within a budget.

Job data is untrusted: every key and value goes through ``escape`` before it joins the markup,
and the result is marked safe only here, once it is whole. The tree is bounded like the text
preview: at most ``budget`` characters of keys and values (then "N more" and the caller's
"show all" link), at most ``MAX_NODES`` values, and below ``MAX_DEPTH`` levels the rest is shown
as compact JSON text (a 100-level nest stays readable on a phone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

#: Levels shown as nested folds; deeper values are shown as JSON text.
MAX_DEPTH = 12
#: Levels open when the page loads.
OPEN_DEPTH = 2
#: Values shown at most, whatever the budget.
MAX_NODES = 5000


@dataclass(frozen=True, slots=True)
class JsonTree:
    html: SafeString
    truncated: bool


class _Builder:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.nodes = 0
        self.truncated = False
        self.out: list[str] = []

    def spend(self, chars: int) -> bool:
        """Take ``chars`` from the budget; False (and truncated) once it is spent."""
        if self.budget <= 0 or self.nodes >= MAX_NODES:
            self.truncated = True
            return False
        self.budget -= chars
        self.nodes += 1
        return True

    def scalar(self, value: Any) -> None:
        if isinstance(value, str):
            text = value if len(value) <= max(self.budget, 0) else value[: max(self.budget, 0)]
            cut = len(value) - len(text)
            self.budget -= len(text)
            self.out.append(f'<span class="qd-j-str">"{escape(text)}')
            if cut:
                self.truncated = True
                note = ngettext("%(n)s more character", "%(n)s more characters", cut)
                self.out.append(f'\u2026"</span> <span class="qd-j-more">'
                                f'{escape(note % {"n": cut})}</span>')
            else:
                self.out.append('"</span>')
            return
        if value is None or isinstance(value, bool):
            kind, text = "qd-j-lit", json.dumps(value)
        elif isinstance(value, int | float):
            kind, text = "qd-j-num", json.dumps(value)
        else:  # not JSON (a repr from a peer's odd data): shown as text
            kind, text = "qd-j-lit", repr(value)
        self.out.append(f'<span class="{kind}">{escape(text)}</span>')

    def value(self, value: Any, depth: int, label: str = "") -> None:
        """``label``: the key's markup, put inside a fold's summary (so that the key and the
        fold's size read on one line) or before a plain value."""
        if isinstance(value, dict | list) and value:
            if depth >= MAX_DEPTH:
                self.out.append(label)
                self.deep(value)
            else:
                self.container(value, depth, label)
        else:
            self.out.append(label)
            if isinstance(value, dict | list):
                self.out.append('<span class="qd-j-lit">{}</span>' if isinstance(value, dict)
                                else '<span class="qd-j-lit">[]</span>')
            else:
                self.scalar(value)

    def deep(self, value: Any) -> None:
        text = json.dumps(value, ensure_ascii=False, default=repr)
        shown = text[: max(self.budget, 0)]
        self.budget -= len(shown)
        if len(shown) < len(text):
            self.truncated = True
            shown += "\u2026"
        self.out.append(f'<code class="qd-j-deep">{escape(shown)}</code>')

    def container(self, value: dict[str, Any] | list[Any], depth: int, label: str) -> None:
        is_dict = isinstance(value, dict)
        count = len(value)
        if is_dict:
            summary = ngettext("{ %(n)s key }", "{ %(n)s keys }", count) % {"n": count}
        else:
            summary = ngettext("[ %(n)s item ]", "[ %(n)s items ]", count) % {"n": count}
        is_open = " open" if depth < OPEN_DEPTH else ""
        self.out.append(f'<details class="qd-j"{is_open}><summary class="qd-j-sum">{label}'
                        f'{escape(summary)}</summary><ul class="qd-j-list">')
        items = value.items() if isinstance(value, dict) else enumerate(value)
        shown = 0
        for key, item in items:
            label = str(key)
            if not self.spend(len(label) + 2):
                break
            shown += 1
            css = "qd-j-key" if is_dict else "qd-j-idx"
            self.out.append("<li>")
            self.value(item, depth + 1, f'<span class="{css}">{escape(label)}</span>: ')
            self.out.append("</li>")
        if shown < count:
            rest = count - shown
            note = gettext("\u2026 %(n)s more") % {"n": rest}
            self.out.append(f'<li class="qd-j-more">{escape(note)}</li>')
        self.out.append("</ul></details>")


def json_tree(value: Any, budget: int) -> JsonTree:
    builder = _Builder(budget)
    builder.value(value, 0)
    return JsonTree(mark_safe("".join(builder.out)), builder.truncated)
