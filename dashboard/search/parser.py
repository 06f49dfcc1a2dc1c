"""The search box's language: words and ``key:value`` / ``key>value`` terms, all of which must
match (AND). Parsing never raises anything but ``QueryError``, whose message names the term
and says what is wrong, for the page to show next to the box.

    card declined                 free text: id, name or failed reason contains each word
    "card declined"               a phrase (quotes hold spaces)
    name:invoice  id:42  reason:timeout
    data.customer.id:42           a JSON path into the job's data (dotted keys, [n] indexes)
    data.items[0].sku:"AB 12"
    attempts>2                    >, <, >=, <=, = (also attempts:2)
    created>-1h  finished<2026-12-01  processed>=2026-12-01T08:00   relative s/m/h/d/w or ISO
    group:0123456789abcdef        the jobs of one failure group (its id on the failures page)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.utils.translation import gettext as _

#: Longer queries are refused with a message (a search box, not a place for a payload).
MAX_QUERY_CHARS = 1000
MAX_TERMS = 20
#: Deeper paths are refused: data is untrusted and may nest deeply.
MAX_PATH_PARTS = 32

TEXT_KEYS = ("name", "id", "reason")
TIME_KEYS = {"created": "timestamp", "processed": "processedOn", "finished": "finishedOn"}
OPERATORS = (">=", "<=", ">", "<", "=")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RELATIVE = re.compile(r"^-?(\d{1,9})([smhdw])$")
_TERM = re.compile(r"^([A-Za-z]+)(>=|<=|>|<|=|:)(.*)$", re.DOTALL)
_DATA = re.compile(r"^data((?:\.|\[)[^:]*):(.*)$", re.DOTALL)
_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d{1,9})\]")
_GROUP = re.compile(r"[0-9a-f]{16}")


class QueryError(ValueError):
    """A query that cannot be read: ``term`` is the offending part (may be empty)."""

    def __init__(self, message: str, term: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.term = term


@dataclass(frozen=True, slots=True)
class TextTerm:
    """Free text (``fields`` empty: id, name or failed reason) or ``name:``/``id:``/``reason:``."""

    needle: str  # lower-cased
    key: str = ""


@dataclass(frozen=True, slots=True)
class DataTerm:
    path: tuple[str | int, ...]
    raw: str  # the value as typed (quotes removed)
    quoted: bool


@dataclass(frozen=True, slots=True)
class CompareTerm:
    """``attempts`` or a time field compared with a number (ms for times)."""

    key: str  # "attempts" or a job hash field: timestamp, processedOn, finishedOn
    op: str
    value: int


@dataclass(frozen=True, slots=True)
class GroupTerm:
    """``group:<id>``: the job's failure classifies into that failure group (as the failures
    page groups them), so a group whose message is masked is still listed exactly."""

    key: str


Term = TextTerm | DataTerm | CompareTerm | GroupTerm


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    terms: tuple[Term, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.terms


def split(text: str) -> list[tuple[str, bool, bool]]:
    """Split on spaces outside quotes; each token with whether any part of it was quoted and
    whether it began with a quote (a phrase). A backslash escapes a quote or a backslash
    inside quotes."""
    tokens: list[tuple[str, bool, bool]] = []
    phrase = False
    buf: list[str] = []
    quoted = in_quote = started = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_quote:
            if ch == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
                buf.append(text[i + 1])
                i += 1
            elif ch == '"':
                in_quote = False
            else:
                buf.append(ch)
        elif ch == '"':
            phrase = phrase or not started
            in_quote = quoted = started = True
        elif ch.isspace():
            if started:
                tokens.append(("".join(buf), quoted, phrase))
            buf, quoted, started, phrase = [], False, False, False
        else:
            buf.append(ch)
            started = True
        i += 1
    if in_quote:
        raise QueryError(_("A quote is not closed: add the closing \"."), "".join(buf))
    if started:
        tokens.append(("".join(buf), quoted, phrase))
    return tokens


def parse_path(path: str, token: str) -> tuple[str | int, ...]:
    """``.a.b[0]`` -> ("a", "b", 0)."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _PATH_PART.match(path, pos)
        if not m:
            raise QueryError(
                _("The data path is not valid at “%(rest)s”: use dotted keys and [n] "
                  "indexes, e.g. data.items[0].sku:AB12.") % {"rest": path[pos:pos + 40]},
                token)
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not parts:
        raise QueryError(_("data needs a path, e.g. data.customer.id:42."), token)
    if len(parts) > MAX_PATH_PARTS:
        raise QueryError(_("The data path is too deep (at most %(n)d parts).")
                         % {"n": MAX_PATH_PARTS}, token)
    return tuple(parts)


def parse_time(value: str, token: str, now: datetime) -> int:
    """Relative (``-1h``: an hour ago) or an ISO date/datetime (UTC unless it says) -> ms."""
    m = _RELATIVE.match(value)
    if m:
        moment = now - timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
        return int(moment.timestamp() * 1000)
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time(), UTC)
        else:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise QueryError(
            _("“%(value)s” is not a time: use a relative one (-30m, -1h, -2d, -1w) or an ISO "
              "date (2026-12-01) or datetime (2026-12-01T08:00).") % {"value": value[:40]},
            token) from None
    return int(moment.timestamp() * 1000)


def parse_term(token: str, quoted: bool, now: datetime) -> Term:
    m = _DATA.match(token)
    if m:
        if m.group(2) == "" and not quoted:
            raise QueryError(_("%(key)s needs a value after the colon.") % {"key": "data"},
                             token)
        return DataTerm(parse_path(m.group(1), token), m.group(2), quoted)
    m = _TERM.match(token)
    if m is None:
        if token.startswith("data"):
            raise QueryError(_("data needs a path and a value, e.g. data.customer.id:42."),
                             token)
        return TextTerm(token.lower())
    key, op, value = m.group(1).lower(), m.group(2), m.group(3)
    if key == "data":
        raise QueryError(_("data needs a path, e.g. data.customer.id:42."), token)
    if key in TEXT_KEYS:
        if op != ":":
            raise QueryError(_("%(key)s takes a colon, e.g. %(key)s:value.") % {"key": key},
                             token)
        if not value:
            raise QueryError(_("%(key)s needs a value after the colon.") % {"key": key}, token)
        return TextTerm(value.lower(), key)
    if key == "group":
        if op != ":" or not _GROUP.fullmatch(value.lower()):
            raise QueryError(_("group takes the id of a failure group (16 hex digits), as "
                               "the failures page links it."), token)
        return GroupTerm(value.lower())
    if key == "attempts" or key in TIME_KEYS:
        op = "=" if op == ":" else op
        if not value:
            raise QueryError(_("%(key)s needs a value, e.g. %(example)s.")
                             % {"key": key, "example": "attempts>2" if key == "attempts"
                                else f"{key}>-1h"}, token)
        if key == "attempts":
            if not value.isdigit() or len(value) > 9:
                raise QueryError(_("attempts compares with a whole number, e.g. attempts>2."),
                                 token)
            return CompareTerm("attempts", op, int(value))
        return CompareTerm(TIME_KEYS[key], op, parse_time(value, token, now))
    if quoted or op != ":":
        known = ("name, id, reason, data.<path>, attempts, created, processed, finished, "
                 "group")
        raise QueryError(_("Unknown term “%(key)s”: known terms are %(known)s.")
                         % {"key": key[:40], "known": known}, token)
    # "word:more" with an unknown key: most likely text with a colon (a URL, a time...).
    return TextTerm(token.lower())


def parse_query(text: str, now: datetime | None = None) -> Query:
    """Read the search box. Raises ``QueryError`` with a message for the page."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(_("The query is %(n)d characters long; at most %(max)d are read.")
                         % {"n": len(text), "max": MAX_QUERY_CHARS})
    if any(ord(c) < 32 and not c.isspace() for c in text):
        raise QueryError(_("The query holds control characters."))
    now = now or datetime.now(UTC)
    tokens = split(text.strip())
    if len(tokens) > MAX_TERMS:
        raise QueryError(_("The query has %(n)d terms; at most %(max)d are allowed.")
                         % {"n": len(tokens), "max": MAX_TERMS})
    terms: list[Term] = []
    for token, quoted, phrase in tokens:
        if phrase:
            terms.append(TextTerm(token.lower()))  # "a quoted phrase" is plain text
        else:
            terms.append(parse_term(token, quoted, now))
    return Query(text=text, terms=tuple(terms))
