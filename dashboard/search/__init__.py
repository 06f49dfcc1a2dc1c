"""Search a queue's jobs: the query language, the matcher and the bounded scanner.

Other parts of the dashboard (bulk actions on every match) use ``parse_query`` and
``iter_matching_ids`` / ``aiter_matching_ids``."""

from __future__ import annotations

from dashboard.search.parser import Query, QueryError, parse_query
from dashboard.search.scanner import (
    Match,
    Step,
    aiter_matching_ids,
    iter_matching_ids,
    scan_step,
)

__all__ = [
    "Match",
    "Query",
    "QueryError",
    "Step",
    "aiter_matching_ids",
    "iter_matching_ids",
    "parse_query",
    "scan_step",
]
