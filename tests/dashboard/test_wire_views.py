"""Search and bulk actions together, through Django's test client on the private
redis-server: a failure group's "list them" link searches exactly that group (its message
masked, so no ``reason:`` substring could), and "all matching" a search is a bulk source
with a dry run, permissions and a run that touches exactly the matches."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard.bulk import operations
from dashboard.search import QueryError, parse_query
from dashboard.search.bulk_source import SearchSource
from dashboard.search.parser import GroupTerm
from queuecore import Queue, Triage
from tests.dashboard.conftest import MOUNT
from tests.queue_helpers import fetch, finish

pytestmark = [pytest.mark.django_db]

Q = f"{MOUNT}default/q/tri/"
PY = """Traceback (most recent call last):
  File "/srv/app/billing.py", line {line}, in charge
    raise CardDeclined(msg)
billing.CardDeclined: {msg}"""


def fail_jobs(q: Queue, reasons: list[str], line: int = 41) -> list[str]:
    ids = [q.add("pay", {"i": i}).id for i in range(len(reasons))]
    for reason in reasons:
        job_id = fetch(q)
        assert job_id is not None
        finish(q, job_id, completed=False, value=reason,
               stacktrace=[PY.format(msg=reason, line=line)])
    return ids


def client(make_user: Callable[..., User], *actions: str) -> Client:
    c = Client()
    c.force_login(make_user(*actions))
    return c


def matches(c: Client, params: dict[str, str]) -> list[str]:
    step = c.get(Q + "search/", params).content.decode()
    assert "Scan finished" in step, step
    return re.findall(r'<tr class="qd-search-row" data-job-id="([^"]+)"', step)


def test_a_failure_groups_link_lists_exactly_its_jobs(
    dash_redis: str, make_user: Callable[..., User]
) -> None:
    with Queue("tri", dash_redis) as q:
        declined = fail_jobs(q, [f"card {4000 + i} declined for u{i}@ex.com" for i in range(5)])
        timeouts = fail_jobs(q, [f"gateway timeout after {30 + i}s" for i in range(3)])
        # The same masked message raised elsewhere: another group.
        other = fail_jobs(q, [f"card {i} declined for v@ex.com" for i in range(2)], line=77)
    viewer = client(make_user, "view")
    page = viewer.get(Q + "failures/").content.decode()
    links = [unescape(h) for h in re.findall(r'<a href="([^"]*)">list them</a>', page)]
    assert len(links) == 3
    found = []
    for link in links:
        params = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
        assert params["state"] == "failed" and params["q"].startswith("group:")
        shown = viewer.get(link)
        assert shown.status_code == 200 and "Failure group:" in shown.content.decode()
        found.append(sorted(matches(viewer, params)))
    assert sorted(found) == sorted([sorted(declined), sorted(timeouts), sorted(other)])
    assert "card &lt;n&gt; declined for &lt;email&gt;" in viewer.get(links[0]).content.decode()
    unknown = viewer.get(Q, {"state": "failed", "q": "group:0123456789abcdef"}).content
    assert "not in the failures index" in unknown.decode()
    # A masked message has no literal to look for: reason: finds both card groups or none.
    assert matches(viewer, {"state": "failed", "q": 'reason:"card <n> declined"'}) == []


def test_a_malformed_group_term_is_explained(
    dash_redis: str, make_user: Callable[..., User]
) -> None:
    step = client(make_user, "view").get(Q + "search/", {"q": "group:<b>x</b>"})
    body = step.content.decode()
    assert step.status_code == 200 and "group takes the id of a failure group" in body
    assert "<b>x</b>" not in body


def test_all_matching_a_search_dry_run_and_run(
    dash_redis: str, make_user: Callable[..., User]
) -> None:
    with Queue("tri", dash_redis) as q:
        declined = fail_jobs(q, [f"card {4000 + i} declined" for i in range(4)])
        kept = fail_jobs(q, ["gateway timeout"] * 2)
    search = {"source": "search", "state": "failed", "q": "reason:declined"}
    viewer = client(make_user, "view")
    assert viewer.get(Q + "bulk/retry/", search).status_code == 403
    retrier = client(make_user, "view", "retry")
    page = retrier.get(Q + "bulk/retry/", search).content.decode()
    assert "Confirm: 4 jobs" in page and "the failed jobs matching “reason:declined”" in page
    assert 'name="q" value="reason:declined"' in page and "At least" not in page
    for bad in ({"q": "attempts>x"}, {"q": " "}, {"state": "nope"}):
        assert retrier.get(Q + "bulk/retry/", {**search, **bad}).status_code == 404, bad
    token = re.search(r'name="token" value="([0-9a-f]{32})"', page)
    assert token is not None
    response = retrier.post(Q + "bulk/retry/run/", {**search, "token": token[1]})
    assert response.status_code == 303
    operations.wait(token[1], 60)
    with Queue("tri", dash_redis) as q:
        assert sorted(j.id for j in q.get_jobs("waiting")) == sorted(declined)
        assert sorted(j.id for j in q.get_jobs("failed")) == sorted(kept)
    done = retrier.get(Q + f"ops/{token[1]}/").content.decode()
    assert "4 done, 0 skipped" in done


def test_a_count_cut_by_its_budget_says_at_least(dash_redis: str) -> None:
    with Queue("tri", dash_redis) as q:
        q.add_bulk([{"name": f"n{i}", "data": {"even": i % 2 == 0}} for i in range(2500)])
        source = SearchSource(q, "waiting", parse_query("data.even:true"), budget_s=0.0)
        # One window of the scan (1,000 jobs), then the budget is spent.
        assert source.count() == 500 and source.partial
        assert (source.scanned, source.total) == (1000, 2500)
        assert len(source.sample(10)) == 10
        ids = [i for chunk in source.chunks(400) for i in chunk]
        assert len(ids) == len(set(ids)) == 1250
        whole = SearchSource(q, "waiting", parse_query("data.even:true"))
        assert whole.count() == 1250 and not whole.partial


def test_a_dry_run_cut_by_its_budget_says_so_and_can_still_run(
    dash_redis: str, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dashboard.search.bulk_source.DRY_RUN_BUDGET_S", 0.0)
    with Queue("tri", dash_redis) as q:
        q.add_bulk([{"name": f"n{i}", "data": {"even": i % 2 == 0}} for i in range(2500)])
    page = client(make_user, "view", "remove").get(
        Q + "bulk/remove/", {"source": "search", "state": "waiting", "q": "data.even:true"})
    body = page.content.decode()
    assert "At least 500 jobs match so far" in body and "after 1,000 of 2,500 jobs" in body
    assert "Confirm: 500 jobs" in body and "disabled" not in body


def test_cancel_is_heard_while_the_operation_collects_the_matches(
    dash_redis: str, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dashboard.search.bulk_source.REPORT_S", 0.0)
    with Queue("tri", dash_redis) as q:
        q.add_bulk([{"name": f"n{i}", "data": {"even": i % 2 == 0}} for i in range(2500)])
        token = "c" * 32
        # Cancel pressed before the collection's first report (after its first window).
        Triage(q).side(("HSET", f"op:{token}", "cancel", "1"))
        response = client(make_user, "view", "remove").post(
            Q + "bulk/remove/run/",
            {"source": "search", "state": "waiting", "q": "data.even:true", "token": token})
        assert response.status_code == 303
        operations.wait(token, 60)
        op = operations.get(Triage(q), token)
        assert op is not None
        # Stopped after one window of 1,000 jobs (500 matches), before removing any.
        assert (op.status, op.done, op.total) == ("cancelled", 0, 500)
        assert q.get_job_counts("waiting")["waiting"] == 2500


def test_the_results_bar_offers_what_the_state_and_user_allow(
    dash_redis: str, make_user: Callable[..., User]
) -> None:
    def offered(c: Client, state: str) -> list[str]:
        page = c.get(Q, {"state": state, "q": "x"}).content.decode()
        return re.findall(r'class="qd-button qd-wire-all[^"]*" href="[^"]*/bulk/(\w+)/', page)

    everything = client(make_user, "view", "retry", "remove", "promote", "edit")
    assert offered(everything, "failed") == ["retry", "remove"]
    assert offered(everything, "delayed") == ["promote", "priority", "remove"]
    assert offered(everything, "waiting") == ["priority", "remove"]
    assert offered(everything, "active") == []
    assert offered(client(make_user, "view"), "failed") == []
    assert 'id="qd-wire-bar"' not in client(make_user, "view").get(
        Q, {"state": "failed", "q": "x"}).content.decode()
    # Inside the admin too, the buttons carry the search.
    admin = everything.get("/ops/admin/queue_dashboard/queuedashboard/default/q/tri/",
                           {"state": "failed", "q": "reason:declined"}).content.decode()
    assert "/bulk/retry/?source=search&amp;state=failed&amp;q=reason%3Adeclined" in admin


def test_group_terms_parse() -> None:
    assert parse_query("group:0123456789ABCDEF").terms == (GroupTerm("0123456789abcdef"),)
    for bad in ("group:123", "group>0123456789abcdef", 'group:"<b>"'):
        with pytest.raises(QueryError, match="group takes the id"):
            parse_query(bad)
