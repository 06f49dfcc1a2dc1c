"""The bulk pages through Django's test client: permissions per action, the dry run's count
and sample, bad input answered with 404 (never a 500), and the audit of a refusal."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client

from dashboard.bulk import groups as fg
from dashboard.bulk import operations as ops
from dashboard.models import AuditLog
from queuecore import Queue
from tests.dashboard.conftest import MOUNT
from tests.queue_helpers import run_to

Q = f"{MOUNT}default/q/tri/"


@pytest.fixture
def seeded(dash_redis: str) -> list[str]:
    with Queue("tri", dash_redis) as q:
        return [q.add("w", {"i": i}).id for i in range(3)]


def _client(make_user: Callable[..., User], *actions: str) -> Client:
    client = Client()
    client.force_login(make_user(*actions))
    return client


@pytest.mark.django_db
def test_dry_run_and_permissions(seeded: list[str], make_user: Callable[..., User]) -> None:
    viewer = _client(make_user, "view")
    assert viewer.get(f"{Q}failures/").status_code == 200
    assert viewer.get(f"{Q}bulk/remove/?source=state&state=waiting").status_code == 403
    assert AuditLog.objects.filter(action="bulk remove", outcome="denied").count() == 1
    remover = _client(make_user, "view", "remove")
    page = remover.get(f"{Q}bulk/remove/?source=state&state=waiting")
    assert page.status_code == 200
    assert "Confirm: 3 jobs" in page.content.decode()
    assert remover.get(f"{Q}bulk/priority/?ids={seeded[0]}").status_code == 403
    editor = _client(make_user, "view", "edit")
    assert editor.get(f"{Q}bulk/priority/?ids={seeded[0]}").status_code == 200
    for bad in ("bulk/nope/", "bulk/remove/?source=state&state=nope",
                "bulk/remove/?source=group&group=<b>", "bulk/remove/?ids=wait",
                "ops/" + "z" * 32 + "/", "ops/" + "a" * 32 + "/"):
        assert remover.get(Q + bad).status_code == 404, bad
    response = remover.post(f"{Q}bulk/remove/run/", {"token": "<script>", "source": "ids"})
    assert response.status_code == 404


@pytest.mark.django_db
def test_hostile_ids_are_escaped_in_the_dry_run(
    dash_redis: str, make_user: Callable[..., User]
) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    with Queue("tri", dash_redis) as q:
        q.add("w", None, job_id=hostile)
    page = _client(make_user, "view", "remove").get(f"{Q}bulk/remove/", {"ids": [hostile]})
    body = page.content.decode()
    assert page.status_code == 200 and hostile not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


@pytest.mark.django_db
def test_a_deeply_nested_stacktrace_does_not_break_the_failures_page(
    dash_redis: str, make_user: Callable[..., User]
) -> None:
    with Queue("tri", dash_redis) as q:
        job_id = run_to(q, "failed", reason="nested")
    # Job data is untrusted: a stacktrace json.loads cannot parse without RecursionError.
    with redis.Redis.from_url(dash_redis) as r:
        r.hset(f"bull:tri:{job_id}", "stacktrace", "[" * 100_000)
    page = _client(make_user, "view").get(f"{Q}failures/")
    assert page.status_code == 200
    assert "nested" in page.content.decode()


@pytest.mark.django_db
def test_undo_is_refused_calmly_unless_the_operation_is_undoable(
    seeded: list[str], make_user: Callable[..., User]
) -> None:
    t = fg.triage("default", "tri")
    op_id = "b" * 32
    ops.record_sync(t, op_id=op_id, action="remove", label="remove", username="x", done=2,
                    total=2)
    t.side(("HSET", f"op:{op_id}", "undone", "2"))  # undone already
    remover = _client(make_user, "view", "remove")
    response = remover.post(f"{Q}ops/{op_id}/undo/", follow=True)
    assert response.status_code == 200
    assert "cannot be undone (any more)" in response.content.decode()
    assert not AuditLog.objects.filter(action="undo remove").exists()


@pytest.mark.django_db
def test_bars_offer_one_table_and_confirm_pages_have_an_h1(
    dash_redis: str, make_user: Callable[..., User]
) -> None:
    """The job list's selection bar and a search's bar read one table (``actions_for``); a
    confirmation page opened on its own (not as the dialog) has its ``<h1>``."""
    with Queue("tri", dash_redis) as q:
        run_to(q, "failed")
        run_to(q, "completed")
        q.add("d", None, delay=60_000)
        q.add("w", None)
        q.add("p", None, priority=2)
    everyone = _client(make_user, "view", "retry", "remove", "promote", "edit", "clean")
    viewer = _client(make_user, "view")
    for state in ("failed", "completed", "delayed", "waiting", "prioritized", "active"):
        for c, allowed in ((everyone, ["retry", "remove", "promote", "edit"]), (viewer, [])):
            page = c.get(Q, {"state": state}).content.decode()
            bar = re.findall(r'qd-bulk-needs-selection" formaction="[^"]*/bulk/(\w+)/', page)
            wire = re.findall(r'class="qd-button qd-wire-all[^"]*" href="[^"]*/bulk/(\w+)/',
                              c.get(Q, {"state": state, "q": "x"}).content.decode())
            assert bar == wire == ops.actions_for(state, allowed), (state, allowed)
    assert ops.actions_for("delayed", ["promote", "edit", "remove"]) == [
        "promote", "priority", "remove"]
    for path in ("bulk/remove/?source=state&state=waiting", "confirm/clean/?state=waiting"):
        body = everyone.get(Q + path).content.decode()
        assert body.count("<h1") == 1 and "Confirm an action on tri" in body
        fragment = everyone.get(Q + path, HTTP_HX_REQUEST="true",
                                HTTP_HX_TARGET="dialog").content.decode()
        assert "<h1" not in fragment  # the dialog keeps its h2
