"""The search pages through Django: the box, scan steps, errors inline, export, import,
copy and move, their permissions and audit, under a mount and inside the admin."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dashboard.models import AuditLog
from queuecore import Queue
from tests.dashboard.conftest import MOUNT

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]

Q = f"{MOUNT}default/q/emails/"
ADMIN_Q = "/ops/admin/queue_dashboard/queuedashboard/default/q/emails/"


def seed(queue: Queue) -> list[str]:
    """Twelve waiting jobs, customers 0..11; 3, 7 and 11 are VIPs."""
    jobs = queue.add_bulk([{"name": f"invoice-{n}", "data": {"customer": {"id": n,
                                                                          "vip": n % 4 == 3}},
                            "opts": {"attempts": 3, "backoff": {"type": "fixed", "delay": 10}}}
                           for n in range(12)])
    return [j.id for j in jobs]


def client_for(make_user: Callable[..., User], *actions: str) -> Client:
    client = Client()
    client.force_login(make_user(*actions))
    return client


def test_the_box_on_the_queue_page_and_a_step(viewer_client: Client, queue: Queue) -> None:
    ids = seed(queue)
    page = viewer_client.get(Q, {"q": "data.customer.vip:true", "state": "waiting"})
    body = page.content.decode()
    assert page.status_code == 200 and 'id="qd-search"' in body
    assert 'value="data.customer.vip:true"' in body
    assert f'hx-get="{Q}search/?q=data.customer.vip%3Atrue&amp;state=waiting' in body
    assert "Export NDJSON" not in body and "Copy or move" not in body  # view only
    step = viewer_client.get(Q + "search/", {"q": "data.customer.vip:true",
                                              "state": "waiting"}).content.decode()
    found = [i for i in ids if f'data-job-id="{i}"' in step]
    assert found == [ids[3], ids[7], ids[11]]
    assert "Scan finished: 3 matches in 12 jobs." in step


def test_a_full_page_offers_the_next_matches(viewer_client: Client, queue: Queue) -> None:
    seed(queue)
    step = viewer_client.get(Q + "search/", {"q": "invoice", "shown": 98}).content.decode()
    assert step.count('class="qd-search-row"') == 2
    assert "Showing the first 100 matches; scanned 2 of 12." in step
    assert f'href="{Q}?q=invoice&amp;state=waiting&amp;cursor=2"' in step


def test_a_malformed_query_is_explained_inline(viewer_client: Client, queue: Queue) -> None:
    page = viewer_client.get(Q, {"q": "attempts>x"})
    body = page.content.decode()
    assert page.status_code == 200
    assert "attempts compares with a whole number" in body and 'aria-invalid="true"' in body
    step = viewer_client.get(Q + "search/", {"q": "created>soon"})
    assert step.status_code == 200 and "is not a time" in step.content.decode()


def test_a_hostile_query_is_answered_and_escaped(viewer_client: Client, queue: Queue) -> None:
    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>' + "x" * 10_240
    page = viewer_client.get(Q, {"q": hostile})
    body = page.content.decode()
    assert page.status_code == 200
    assert "characters long; at most 1000 are read" in body
    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # kept in the box, escaped
    short = viewer_client.get(Q, {"q": 'name:<b>"x'}).content.decode()
    assert "A quote is not closed" in short and "<b>" not in short.split('id="qd-search"')[1]


def test_export_needs_its_permission_and_streams_ndjson(
    make_user: Callable[..., User], queue: Queue
) -> None:
    ids = seed(queue)
    queue.add_job_log(ids[3], "charged")
    params = {"q": "data.customer.vip:true", "state": "waiting"}
    assert client_for(make_user, "view").get(Q + "search/export/", params).status_code == 403
    exporter = client_for(make_user, "view", "export")
    assert "Export NDJSON" in exporter.get(Q, params).content.decode()
    response = exporter.get(Q + "search/export/", {**params, "logs": "1"})
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    assert 'filename="emails-waiting.ndjson"' in response["Content-Disposition"]
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [r["id"] for r in lines] == [ids[11], ids[7], ids[3]]  # newest first
    first = lines[-1]
    assert first["name"] == "invoice-3" and first["data"] == {"customer": {"id": 3, "vip": True}}
    assert first["opts"]["backoff"] == {"type": "fixed", "delay": 10}
    assert first["state"] == "waiting" and first["logs"] == ["charged"]
    assert first["attemptsMade"] == 0 and first["timestamp"] > 0
    assert AuditLog.objects.filter(action="export", queue="emails").count() == 1
    bad = exporter.get(Q + "search/export/", {"q": "attempts>"})
    assert bad.status_code == 400 and "needs a value" in bad.content.decode()


def _upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("jobs.ndjson", text.encode(), "application/x-ndjson")


def test_import_dry_run_lists_errors_then_imports(
    make_user: Callable[..., User], queue: Queue, dash_redis: str
) -> None:
    viewer = client_for(make_user, "view")
    assert viewer.get(Q + "import/").status_code == 200
    assert viewer.post(Q + "import/run/", {"file": _upload("{}")}).status_code == 403
    editor = client_for(make_user, "view", "edit")
    bad = "\n".join([
        json.dumps({"name": "ok", "data": {"a": 1}}),
        "{not json",
        json.dumps({"name": "", "data": {}}),
        json.dumps({"name": "x", "opts": {"attempts": "many"}}),
        "[1]",
    ])
    body = editor.post(Q + "import/run/", {"file": _upload(bad), "mode": "import"},
                       headers={"HX-Request": "true"}).content.decode()
    assert "5 lines read, 1 jobs ready, 4 with errors" in body
    for line in ("line 2: not JSON", "line 3: “name” must be", "line 4: “opts” are not valid",
                 "line 5: not a JSON object"):
        assert line in body
    assert queue.get_job_counts("waiting")["waiting"] == 0  # nothing written
    good = "\n".join(json.dumps({"id": "old", "state": "failed", "name": f"n{i}",
                                 "data": {"i": i}, "opts": {"attempts": 2, "parent": {}}})
                     for i in range(3))
    dry = editor.post(Q + "import/run/", {"file": _upload(good), "mode": "dry-run"},
                      headers={"HX-Request": "true"}).content.decode()
    assert "3 lines read, 3 jobs ready, 0 with errors" in dry and "<html" not in dry
    assert "Fields ignored:" in dry and "<code>state</code>" in dry and "<code>parent</code>" in dry
    assert queue.get_job_counts("waiting")["waiting"] == 0
    # A plain form post: a message and back to the page (no htmx).
    plain = editor.post(Q + "import/run/", {"file": _upload(bad), "mode": "dry-run"},
                        follow=True)
    assert plain.redirect_chain == [(Q + "import/", 303)]
    text = plain.content.decode()
    assert "5 lines read, 1 jobs ready, 4 with errors" in text and "line 2: not JSON" in text
    done = editor.post(Q + "import/run/", {"file": _upload(good), "mode": "import"},
                       follow=True).content.decode()
    assert "Imported 3 jobs." in done
    assert sorted(j.data["i"] for j in queue.get_waiting()) == [0, 1, 2]
    log = AuditLog.objects.get(action="import", outcome="ok")
    assert log.count == 3 and len(log.job_ids) == 3


def test_copy_and_move_by_search_and_by_ids(
    make_user: Callable[..., User], queue: Queue, dash_redis: str
) -> None:
    ids = seed(queue)
    target = Queue("archive", connection=dash_redis)
    editor = client_for(make_user, "view", "edit")
    form = editor.get(Q + "transfer/", {"q": "data.customer.vip:true"}).content.decode()
    assert 'name="q" value="data.customer.vip:true"' in form
    copied = editor.post(Q + "transfer/run/", {"q": "data.customer.vip:true",
                                               "state": "waiting", "target": "archive",
                                               "mode": "copy"}, follow=True)
    assert copied.redirect_chain == [(f"{MOUNT}default/q/archive/", 303)]
    assert "Copied 3 jobs to archive." in copied.content.decode()
    assert sorted(j.name for j in target.get_waiting()) == ["invoice-11", "invoice-3",
                                                            "invoice-7"]
    original = queue.get_job(ids[3])
    assert original is not None
    twin = next(j for j in target.get_waiting() if j.name == "invoice-3")
    assert (twin.data, twin.opts) == (original.data, original.opts)
    # Moving needs remove on the source.
    denied = editor.post(Q + "transfer/run/", {"ids": f"{ids[0]}, {ids[1]}",
                                               "target": "archive", "mode": "move"})
    assert denied.status_code == 403
    mover = client_for(make_user, "view", "edit", "remove")
    moved = mover.post(Q + "transfer/run/", {"ids": f"{ids[0]}\n{ids[1]}", "target": "archive",
                                             "mode": "move"}, follow=True).content.decode()
    assert "Moved 2 jobs to archive." in moved
    assert queue.get_job(ids[0]) is None and queue.get_job(ids[1]) is None
    assert target.get_job_counts("waiting")["waiting"] == 5
    same = mover.post(Q + "transfer/run/", {"ids": ids[2], "target": "emails", "mode": "copy"},
                      follow=True)
    assert "The target is this queue" in same.content.decode()
    logs = AuditLog.objects.filter(action__in=("copy jobs", "move jobs"))
    assert sorted((a.action, a.outcome, a.count) for a in logs) == [
        ("copy jobs", "ok", 3), ("move jobs", "denied", None), ("move jobs", "ok", 2)]
    target.close()


def test_inside_the_admin(admin_user_client: Client, queue: Queue) -> None:
    seed(queue)
    page = admin_user_client.get(ADMIN_Q, {"q": "invoice-1"}).content.decode()
    assert f'hx-get="{ADMIN_Q}search/?q=invoice-1' in page
    step = admin_user_client.get(ADMIN_Q + "search/", {"q": "invoice-1"}).content.decode()
    assert step.count('class="qd-search-row"') == 3  # invoice-1, -10, -11
    assert f'href="{ADMIN_Q}jobs/' in step
    assert admin_user_client.get(ADMIN_Q + "import/").status_code == 200
    export = admin_user_client.get(ADMIN_Q + "search/export/?q=" + quote("invoice-1"))
    assert len(b"".join(export.streaming_content).splitlines()) == 3


def test_import_refuses_a_file_over_the_cap_and_a_missing_file(
    admin_user_client: Client, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard.views import search_io

    monkeypatch.setattr(search_io, "MAX_IMPORT_BYTES", 100)
    hx = {"HX-Request": "true"}
    big = admin_user_client.post(Q + "import/run/", {"file": _upload("{}\n" * 60),
                                                     "mode": "import"}, headers=hx
                                 ).content.decode()
    assert "The file is larger than 100 bytes." in big
    none = admin_user_client.post(Q + "import/run/", {"mode": "dry-run"}, headers=hx
                                  ).content.decode()
    assert "Choose an NDJSON file." in none
    not_utf8 = admin_user_client.post(Q + "import/run/", {"file": SimpleUploadedFile(
        "x.ndjson", b"\xff\xfe{}"), "mode": "dry-run"}, headers=hx).content.decode()
    assert "not UTF-8" in not_utf8
    assert queue.get_job_counts("waiting")["waiting"] == 0


@pytest.mark.parametrize("mode", ["copy", "move"])
def test_copy_and_move_by_search_read_a_capped_part_per_request(
    make_user: Callable[..., User], queue: Queue, dash_redis: str, mode: str,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search few jobs match is not walked whole in one request: each reads at most
    MAX_SCAN entries and sends the form back with the cursor to go on from (for a move,
    moved up by the jobs it took out of the part read)."""
    from dashboard.views import search_io

    monkeypatch.setattr(search_io, "MAX_SCAN", 4)
    seed(queue)
    target = Queue("archive", connection=dash_redis)
    mover = client_for(make_user, "view", "edit", "remove")
    form = {"q": "data.customer.vip:true", "state": "waiting", "target": "archive",
            "mode": mode, "cursor": "0"}
    requests = 0
    while True:
        requests += 1
        assert requests < 10
        response = mover.post(Q + "transfer/run/", form)
        assert response.status_code == 303
        if "/transfer/" not in response["Location"]:
            assert response["Location"] == f"{MOUNT}default/q/archive/"
            break
        form["cursor"] = response["Location"].split("cursor=")[1].split("&")[0]
    assert 3 <= requests <= 4  # a 4th when the last part read ended on a full window
    assert sorted(j.name for j in target.get_waiting()) == ["invoice-11", "invoice-3",
                                                            "invoice-7"]
    left = 9 if mode == "move" else 12
    assert queue.get_job_counts("waiting")["waiting"] == left
    logs = AuditLog.objects.filter(action=f"{mode} jobs", outcome="ok")
    assert sorted(a.count for a in logs if a.count) == [1, 1, 1]
    target.close()
