"""What the search box and its result steps show: the query read from a request, each
match as a table row, and the URLs that continue, stop or export a search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.http import HttpRequest, QueryDict

from dashboard.formatting import ms_to_datetime, shorten
from dashboard.search.matcher import attempts_of
from dashboard.search.parser import Query, QueryError, parse_query
from dashboard.search.scanner import Match
from dashboard.services.common import STATES

#: Characters of a name a result row shows (the job page shows it all).
NAME_SHOWN = 120
#: Matches listed per page; "more" goes on from the cursor.
PAGE_MATCHES = 100


@dataclass(frozen=True, slots=True)
class SearchRow:
    id: str
    name: str
    attempts_made: int
    created: datetime | None
    finished: datetime | None
    failed_reason: str


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """The search part of a URL: ``q``, ``state``, ``cursor`` (and how many are shown)."""

    text: str
    state: str
    cursor: int
    shown: int
    query: Query | None
    error: QueryError | None

    @property
    def active(self) -> bool:
        return bool(self.text.strip())

    def params(self, **changes: object) -> str:
        values: dict[str, object] = {"q": self.text, "state": self.state,
                                     "cursor": self.cursor}
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _int(raw: str | None, default: int = 0) -> int:
    try:
        return max(int(raw or default), 0)
    except ValueError:
        return default


def read_search(params: QueryDict, default_state: str = "waiting") -> SearchRequest:
    text = params.get("q", "")
    state = params.get("state", default_state)
    if state not in STATES:
        state = default_state
    query, error = None, None
    if text.strip():
        try:
            query = parse_query(text)
        except QueryError as exc:
            error = exc
    return SearchRequest(text=text, state=state, cursor=_int(params.get("cursor")),
                         shown=min(_int(params.get("shown")), PAGE_MATCHES), query=query,
                         error=error)


def search_of(request: HttpRequest, default_state: str = "waiting") -> SearchRequest:
    return read_search(request.GET, default_state)


def row_of(match: Match) -> SearchRow:
    f = match.fields
    return SearchRow(
        id=match.id,
        name=shorten(f.get("name", ""), NAME_SHOWN),
        attempts_made=attempts_of(f),
        created=ms_to_datetime(_int(f.get("timestamp")) or None),
        finished=ms_to_datetime(_int(f.get("finishedOn")) or None),
        failed_reason=shorten(f.get("failedReason") or ""),
    )
