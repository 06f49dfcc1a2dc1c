"""Does one job match a query? Works on the raw hash fields the scanner read (strings from
Redis, untrusted), so a scan parses only what a term needs, and data only when cheap checks
cannot rule a job out."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from dashboard.bulk.normalise import classify
from dashboard.search.parser import CompareTerm, DataTerm, GroupTerm, Query, Term, TextTerm

Fields = Mapping[str, str]
Check = Callable[[str, Fields, dict[str, Any]], bool]

#: Fields the results table shows; a query may need more (``data``).
ROW_FIELDS = ("name", "timestamp", "processedOn", "finishedOn", "failedReason", "atm",
              "attemptsMade", "opts")
_TEXT_FIELD = {"name": "name", "reason": "failedReason"}
#: A needle made only of these appears in the raw JSON text as typed (JSON escapes none of
#: them), so a raw substring test may rule a job out before its data is parsed.
_EXPONENT = re.compile(r"[0-9][eE]")
_INTEGER = re.compile(r"^-?(0|[1-9][0-9]*)$")
_PLAIN = re.compile(r"^[A-Za-z0-9 _.,:;@#$%*+=?!~^|()'{}-]*$")


def fields_needed(query: Query) -> tuple[str, ...]:
    """The hash fields the query's terms read (only these are fetched while scanning; the
    rows of the matches are read afterwards). ``name`` at least: a job without one is gone."""
    needed = {"name"}
    for term in query.terms:
        if isinstance(term, DataTerm):
            needed.add("data")
        elif isinstance(term, TextTerm):
            needed.update(("name", "failedReason") if not term.key
                          else (_TEXT_FIELD.get(term.key, "name"),))
        elif isinstance(term, GroupTerm):
            needed.update(("failedReason", "stacktrace"))
        elif term.key == "attempts":
            needed.update(("atm", "attemptsMade"))
        else:
            needed.add(term.key)
    return tuple(sorted(needed))


def attempts_of(fields: Fields) -> int:
    # A BullMQ 5 ``attemptsMade`` wins over 6's ``atm``, as both peers read them.
    raw = fields.get("attemptsMade") or fields.get("atm") or "0"
    try:
        return int(float(raw))
    except ValueError:
        return 0


def _int_field(fields: Fields, name: str) -> int | None:
    raw = fields.get(name)
    if not raw:
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


def _compare(left: int, op: str, right: int) -> bool:
    if op == ">":
        return left > right
    if op == "<":
        return left < right
    if op == ">=":
        return left >= right
    if op == "<=":
        return left <= right
    return left == right


def _data(fields: Fields, cache: dict[str, Any]) -> Any:
    if "data" not in cache:
        try:
            cache["data"] = json.loads(fields.get("data") or "null")
        except (ValueError, RecursionError):
            cache["data"] = None
    return cache["data"]


def _at(value: Any, path: tuple[str | int, ...]) -> tuple[bool, Any]:
    for part in path:
        if isinstance(part, int) and isinstance(value, list) and part < len(value):
            value = value[part]
        elif isinstance(value, dict) and str(part) in value:
            value = value[str(part)]
        else:
            return False, None
    return True, value


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _data_check(term: DataTerm) -> Check:
    needle = term.raw.lower()
    number = _number(term.raw)
    literal = {"true": True, "false": False, "null": None}.get(term.raw.lower(), ...)
    plain = bool(_PLAIN.match(term.raw)) and bool(needle)
    caseless = needle == needle.upper()  # digits and signs: no need to lower the data
    # A string containing the text, or an integer, shows the text in the raw JSON (JSON
    # writers put integers as digits, unless in exponent form, which is checked for);
    # other forms (42.0, true) are left to the parse.
    prefilter = plain and literal is ... and (number is None or _INTEGER.match(term.raw))

    def check(job_id: str, fields: Fields, cache: dict[str, Any]) -> bool:
        raw = fields.get("data") or ""
        if prefilter and needle not in (raw if caseless else raw.lower()) and not (
                number is not None and _EXPONENT.search(raw)):
            return False  # its text is nowhere in the data: skip the parse
        found, value = _at(_data(fields, cache), term.path)
        if not found:
            return False
        if isinstance(value, bool) or value is None:
            return literal is not ... and value is literal
        if isinstance(value, int | float):
            return number is not None and float(value) == number
        if isinstance(value, str):
            return needle in value.lower()
        return False

    return check


def _text_check(term: TextTerm) -> Check:
    needle = term.needle
    if term.key == "id":
        return lambda job_id, fields, cache: needle in job_id.lower()
    if term.key:
        name = _TEXT_FIELD[term.key]
        return lambda job_id, fields, cache: needle in (fields.get(name) or "").lower()

    def check(job_id: str, fields: Fields, cache: dict[str, Any]) -> bool:
        return (needle in job_id.lower() or needle in (fields.get("name") or "").lower()
                or needle in (fields.get("failedReason") or "").lower())

    return check


def _compare_check(term: CompareTerm) -> Check:
    if term.key == "attempts":
        return lambda job_id, fields, cache: _compare(attempts_of(fields), term.op, term.value)

    def check(job_id: str, fields: Fields, cache: dict[str, Any]) -> bool:
        value = _int_field(fields, term.key)
        return value is not None and _compare(value, term.op, term.value)

    return check


def _stack(raw: str | None) -> list[str]:
    """A job hash's ``stacktrace`` (a JSON list, newest last) as the grouping reads it."""
    try:
        value = json.loads(raw) if raw else []
    except (ValueError, RecursionError):
        return [raw or ""]
    return [str(s) for s in value] if isinstance(value, list) else [str(value)]


def _group_check(term: GroupTerm) -> Check:
    def check(job_id: str, fields: Fields, cache: dict[str, Any]) -> bool:
        failure = classify(fields.get("failedReason") or "", _stack(fields.get("stacktrace")))
        return failure.key == term.key

    return check


def _check(term: Term) -> Check:
    if isinstance(term, GroupTerm):
        return _group_check(term)
    if isinstance(term, TextTerm):
        return _text_check(term)
    if isinstance(term, DataTerm):
        return _data_check(term)
    return _compare_check(term)


def compile_query(query: Query) -> Callable[[str, Fields], bool]:
    """A predicate over (job id, raw hash fields): every term must match."""
    # Cheap terms first: a data term parses JSON, a group term classifies the failure.
    checks = [_check(t) for t in sorted(
        query.terms, key=lambda t: isinstance(t, DataTerm | GroupTerm))]

    def matches(job_id: str, fields: Fields) -> bool:
        cache: dict[str, Any] = {}
        return all(check(job_id, fields, cache) for check in checks)

    return matches
