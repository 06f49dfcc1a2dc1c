"""The search box's context on the queue page (``search/box.html``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template

from dashboard.search.page import PAGE_MATCHES, search_of
from dashboard.search.parser import MAX_QUERY_CHARS
from dashboard.services.common import STATES
from dashboard.views.context import url

register = template.Library()


@register.simple_tag(takes_context=True)
def search_box_context(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    connection, queue = context["connection"], context["queue"]
    data = context.get("data")
    search = search_of(request, getattr(data, "state", "waiting"))

    def to(name: str, **changes: object) -> str:
        return url(request, name, connection, queue, query=search.params(**changes))

    return {
        "search": search,
        "states": STATES,
        "page_matches": PAGE_MATCHES,
        # The box holds no more than the parser reads (a longer query in a URL is answered
        # with a message); servers also refuse very long URLs.
        "max_chars": MAX_QUERY_CHARS,
        "page_url": url(request, "queue", connection, queue),
        "clear_url": url(request, "queue", connection, queue,
                         query=f"state={search.state}"),
        "step_url": to("search", shown=0),
        "continue_url": to("queue"),
        "stopped": request.GET.get("stopped") == "1",
        "export_url": to("search-export", cursor=0),
        "transfer_url": to("transfer", cursor=0),
        "import_url": url(request, "import", connection, queue),
        # "All matching" bulk actions (search/_bulk.html): the search from the state's start.
        "bulk_query": urlencode({"source": "search", "state": search.state, "q": search.text}),
    }
