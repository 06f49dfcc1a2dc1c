"""Hostile strings for job fields, and a check that a page holds no markup that came from them.

Every payload carries the marker ``qdxss`` so a test can tell its text from the template's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

MARK = "qdxss"

PAYLOADS: tuple[str, ...] = (
    # script tags
    f"<script>alert('{MARK}')</script>",
    f"<SCRIPT SRC=//evil.example/{MARK}.js></SCRIPT>",
    f"<script>window.{MARK}=1</script>",
    f"</script><script>alert('{MARK}')</script>",
    f"<scr<script>ipt>alert('{MARK}')</scr</script>ipt>",
    f"<script\x20type='text/javascript'>alert('{MARK}');</script>",
    f"<<script>alert('{MARK}');//<</script>",
    # event handlers
    f"<img src=x onerror=alert('{MARK}')>",
    f"<body onload=alert('{MARK}')>",
    f"<div onmouseover=\"alert('{MARK}')\">hover</div>",
    f"<input autofocus onfocus=alert('{MARK}')>",
    f"<details open ontoggle=alert('{MARK}')>",
    f"<video><source onerror=alert('{MARK}')></video>",
    f"<marquee onstart=alert('{MARK}')>",
    f"<img src=x oNeRrOr=alert`{MARK}`>",
    # javascript: and other URLs
    f"<a href=\"javascript:alert('{MARK}')\">click</a>",
    f"<a href=\"  JaVaScRiPt:alert('{MARK}')\">x</a>",
    f"<a href=\"java&#x09;script:alert('{MARK}')\">x</a>",
    f"javascript:alert('{MARK}')",
    f"<iframe src=\"javascript:alert('{MARK}')\"></iframe>",
    f"<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">{MARK}</a>",
    f"<form action=\"javascript:alert('{MARK}')\"><button>go</button></form>",
    f"<object data=\"javascript:alert('{MARK}')\"></object>",
    f"<embed src=\"javascript:alert('{MARK}')\">",
    f"<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert('{MARK}')\">",
    f"<base href=\"//evil.example/{MARK}/\">",
    # SVG and MathML
    f"<svg onload=alert('{MARK}')>",
    f"<svg><script>alert('{MARK}')</script></svg>",
    f"<svg><animate onbegin=alert('{MARK}') attributeName=x dur=1s>",
    f"<svg><a xlink:href=\"javascript:alert('{MARK}')\"><text x=20 y=20>x</text></a></svg>",
    f"<math><mtext><table><mglyph><style><img src=x onerror=alert('{MARK}')>",
    # attribute breakouts
    f"\" onmouseover=\"alert('{MARK}')",
    f"' onfocus='alert(`{MARK}`)' autofocus='",
    f"\"><script>alert('{MARK}')</script>",
    f"'><img src=x onerror=alert('{MARK}')>",
    f"\" autofocus onfocus=alert('{MARK}') x=\"",
    f"` onerror=alert('{MARK}') `",
    f"</textarea><script>alert('{MARK}')</script>",
    f"</title><script>alert('{MARK}')</script>",
    f"--><script>alert('{MARK}')</script><!--",
    f"]]><script>alert('{MARK}')</script>",
    # template injection (Django, Jinja, Angular-style)
    f"{{{{ request.user.password }}}}{MARK}",
    f"{{% debug %}}{MARK}",
    f"{{% load static %}}{{% static '{MARK}' %}}",
    f"{{{{constructor.constructor('alert(\"{MARK}\")')()}}}}",
    f"${{alert('{MARK}')}}",
    f"{{{{7*7}}}}{MARK}",
    # unicode tricks
    f"\u003cscript\u003ealert('{MARK}')\u003c/script\u003e",
    f"\uff1cscript\uff1ealert('{MARK}')\uff1c/script\uff1e",
    f"<scr\u200bipt>alert('{MARK}')</scr\u200bipt>",
    f"\u202e<script>alert('{MARK}')</script>",
    f"&lt;script&gt;alert('{MARK}')&lt;/script&gt;",
    f"%3Cscript%3Ealert('{MARK}')%3C/script%3E",
    f"<img src=x onerror=\"&#97;&#108;&#101;&#114;&#116;('{MARK}')\">",
    # htmx attributes injected into data
    f"<div hx-get=\"/{MARK}\" hx-trigger=\"load\" hx-target=\"body\">x</div>",
    f"<div hx-on:click=\"alert('{MARK}')\">x</div>",
    f"<div hx-on::load=\"alert('{MARK}')\" hx-trigger=load>x</div>",
    f"<button hx-post=\"/{MARK}\" hx-trigger=\"load\">x</button>",
    f"<div hx-swap-oob=\"true\" id=\"job-state\">{MARK}</div>",
    f"<div data-hx-get=\"/{MARK}\" data-hx-trigger=\"load\">x</div>",
    f"<div hx-vals='js:{{a: alert(\"{MARK}\")}}' hx-get=/x hx-trigger=load>",
    f"<div ws-connect=\"/ws/{MARK}\" hx-ext=\"ws\">x</div>",
    f"<style>@import'//evil.example/{MARK}.css';</style>",
    f"<link rel=stylesheet href=//evil.example/{MARK}.css>",
)

URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "hx-get", "hx-post", "ws-connect", "xlink:href"}
)


@dataclass
class Markup:
    tags: set[str] = field(default_factory=set)
    attributes: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


class _Collector(HTMLParser):
    def __init__(self, markup: Markup) -> None:
        super().__init__(convert_charrefs=True)
        self.markup = markup
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        m = self.markup
        m.tags.add(tag)
        if MARK in tag:
            m.problems.append(f"element from a payload: <{tag}>")
        values = dict(attrs)
        if tag == "script":
            self.in_script = True
            if not (values.get("src") or "").startswith("/static/"):
                m.problems.append(f"script not from the static files: {attrs}")
        for name, value in attrs:
            m.attributes.add(name)
            if MARK in name:
                m.problems.append(f"attribute from a payload: {name}={value!r} on <{tag}>")
            if name.startswith("on"):
                m.problems.append(f"event handler attribute: <{tag} {name}={value!r}>")
            if name in URL_ATTRIBUTES and value is not None:
                scheme = "".join(value.split()).lower()
                if not scheme.startswith(("/", "?", "#")) and not scheme.startswith("http"):
                    m.problems.append(f"URL attribute not a path: <{tag} {name}={value!r}>")
            carries = bool(value) and MARK in (value or "")
            url_like = name in ("hx-get", "hx-post") and (value or "").startswith("/")
            if name.startswith(("hx-", "data-hx-")) and carries and name != "hx-confirm" and (
                not url_like
            ):
                m.problems.append(f"htmx attribute carries a payload: {name}={value!r}")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.markup.problems.append(f"inline script: {data[:80]!r}")


def markup_of(html: str, into: Markup | None = None) -> Markup:
    markup = into if into is not None else Markup()
    parser = _Collector(markup)
    parser.feed(html)
    parser.close()
    return markup


def injected(html: str, allowed: Markup) -> list[str]:
    """What in ``html`` did not come from a template: tags and attribute names the benign
    rendering of the same pages never has, plus the always-wrong things ``_Collector`` finds."""
    found = markup_of(html)
    problems = list(found.problems)
    for payload in PAYLOADS:
        if "<" in payload and payload in html:
            problems.append(f"payload verbatim: {payload!r}")
    for tag in sorted(found.tags - allowed.tags):
        problems.append(f"element no template writes: <{tag}>")
    for name in sorted(found.attributes - allowed.attributes):
        problems.append(f"attribute no template writes: {name}")
    return problems
