"""Every read-only page through the test client, on the example host project's mount."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard.csp import policy
from dashboard.templatetags.queue_dashboard import dom_id
from tests.dashboard.conftest import MOUNT
from tests.dashboard.jobs import populate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]


@pytest.fixture
def jobs(dash_redis: str, queue: Any) -> dict[str, list[str]]:
    return populate(dash_redis, queue)


def test_overview_lists_discovered_queues_and_counts(
    viewer_client: Client, jobs: dict[str, list[str]]
) -> None:
    response = viewer_client.get(MOUNT)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == policy()
    body = response.content.decode()
    assert f'href="{MOUNT}default/q/emails/"' in body
    assert 'data-queue="emails"' in body
    assert "Main" in body  # connection label
    assert "other" in body  # second named connection
    assert "<svg" in body  # throughput chart
    qid = dom_id("default", "emails")
    for state, count in (("failed", 1), ("completed", 2)):
        # A count is a number styled by the design system: failures emphasised.
        classes = "qd-n qd-has-failed" if state == "failed" else "qd-n"
        cell = f'?state={state}"><span id="{qid}-{state}" class="{classes}">{count}</span></a>'
        assert f'href="{MOUNT}default/q/emails/{cell}' in body


def test_overview_needs_login_and_staff(client: Client, make_user: Callable[..., User]) -> None:
    response = client.get(MOUNT)
    assert response.status_code == 302
    assert "login" in response["Location"]
    client.force_login(make_user("view", staff=False))
    assert client.get(MOUNT).status_code == 403
    client.force_login(make_user())  # staff without the view permission
    assert client.get(MOUNT).status_code == 403


@pytest.mark.parametrize("state", ["waiting", "completed", "failed", "delayed", "prioritized"])
def test_queue_tabs(viewer_client: Client, jobs: dict[str, list[str]], state: str) -> None:
    response = viewer_client.get(f"{MOUNT}default/q/emails/", {"state": state})
    assert response.status_code == 200
    body = response.content.decode()
    for job_id in jobs[state]:
        assert f'data-job-id="{job_id}"' in body
    assert 'aria-selected="true"' in body


def test_failed_reason_is_escaped(viewer_client: Client, jobs: dict[str, list[str]]) -> None:
    body = viewer_client.get(f"{MOUNT}default/q/emails/", {"state": "failed"}).content.decode()
    assert "boom &lt;b&gt;fail-once&lt;/b&gt;" in body
    assert "<b>fail-once</b>" not in body


def test_queue_page_is_bounded_and_ordered(viewer_client: Client, queue: Any) -> None:
    ids = [queue.add("bulk", {"i": i}).id for i in range(12)]
    newest = viewer_client.get(f"{MOUNT}default/q/emails/").content.decode()
    assert newest.count('class="qd-job-row"') == 5  # PAGE_SIZE
    assert f'data-job-id="{ids[-1]}"' in newest
    oldest = viewer_client.get(f"{MOUNT}default/q/emails/", {"order": "oldest"}).content.decode()
    assert f'data-job-id="{ids[0]}"' in oldest
    last = viewer_client.get(f"{MOUNT}default/q/emails/", {"page": "3"}).content.decode()
    assert last.count('class="qd-job-row"') == 2
    assert "page 3 of 3" in last
    big = viewer_client.get(f"{MOUNT}default/q/emails/", {"size": "100000"})
    assert big.status_code == 200


def test_queue_page_fragment_for_htmx(viewer_client: Client, queue: Any) -> None:
    queue.add("one", {})
    response = viewer_client.get(
        f"{MOUNT}default/q/emails/",
        {"state": "waiting"},
        headers={"HX-Request": "true", "HX-Target": "jobs"},
    )
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    body = response.content.decode()
    assert "<html" not in body
    assert 'class="qd-job-row"' in body


def test_unknown_state_connection_and_job(viewer_client: Client, queue: Any) -> None:
    assert viewer_client.get(f"{MOUNT}default/q/emails/", {"state": "x"}).status_code == 404
    assert viewer_client.get(f"{MOUNT}nowhere/q/emails/").status_code == 404
    assert viewer_client.get(f"{MOUNT}default/q/emails/jobs/404/").status_code == 404


def test_jump_to_job(viewer_client: Client, queue: Any) -> None:
    job = queue.add("one", {})
    response = viewer_client.get(f"{MOUNT}default/q/emails/jump/", {"id": job.id})
    assert response.status_code == 302
    assert response["Location"] == f"{MOUNT}default/q/emails/jobs/{job.id}/"
    empty = viewer_client.get(f"{MOUNT}default/q/emails/jump/", {"id": ""})
    assert empty["Location"] == f"{MOUNT}default/q/emails/"


def test_job_page(viewer_client: Client, jobs: dict[str, list[str]]) -> None:
    job_id = jobs["failed"][0]
    response = viewer_client.get(f"{MOUNT}default/q/emails/jobs/{job_id}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Stack trace" in body
    assert "RuntimeError" in body
    assert "processing fail-once" in body  # log line
    assert "Timeline" in body
    assert "attempt 1 failed" in body
    assert "&lt;b&gt;" in body
    assert "<b>fail-once" not in body
    # A viewer sees no action buttons.
    assert "/retry/" not in body


def test_job_page_escapes_and_cuts_data(
    viewer_client: Client, queue: Any, settings: Any, dash_redis: str
) -> None:
    settings.QUEUE_DASHBOARD = {
        **settings.QUEUE_DASHBOARD,
        "JSON_PREVIEW_CHARS": 60,
        "LOG_PAGE_SIZE": 2,
    }
    evil = "<script>alert(1)</script>"
    job = queue.add("evil", {"html": evil, "pad": "z" * 200})
    for i in range(5):
        job.log(f"line {i} {evil}")
    url = f"{MOUNT}default/q/emails/jobs/{job.id}/"
    body = viewer_client.get(url).content.decode()
    assert evil not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "Show all" in body
    assert "z" * 200 not in body
    assert "line 0" in body
    assert "line 2" not in body
    assert "page 1 of 3" in body
    full = viewer_client.get(url, {"full": "data", "logs": "2"}).content.decode()
    assert "z" * 200 in full
    assert "line 2" in full
    assert "line 0" not in full


def test_job_page_shows_completed_result(viewer_client: Client, jobs: dict[str, list[str]]) -> None:
    body = viewer_client.get(
        f"{MOUNT}default/q/emails/jobs/{jobs['completed'][0]}/"
    ).content.decode()
    assert "Return value" in body
    assert "&quot;ok&quot;: true" in body


def test_workers_page(viewer_client: Client, queue: Any) -> None:
    queue.add("x", {})
    response = viewer_client.get(f"{MOUNT}default/workers/")
    assert response.status_code == 200
    assert "No workers connected." in response.content.decode()


def test_redis_page_warns_about_eviction(viewer_client: Client, dash_redis: str) -> None:
    import redis

    client = redis.Redis.from_url(dash_redis)
    client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        body = viewer_client.get(f"{MOUNT}default/redis/").content.decode()
        assert 'id="eviction-warning"' in body
        assert "allkeys-lru" in body
        client.config_set("maxmemory-policy", "noeviction")
        body = viewer_client.get(f"{MOUNT}default/redis/").content.decode()
        assert 'id="eviction-warning"' not in body
        assert "Version" in body
    finally:
        client.config_set("maxmemory-policy", "noeviction")
        client.close()


def test_schedulers_page(viewer_client: Client, queue: Any) -> None:
    response = viewer_client.get(f"{MOUNT}default/q/emails/schedulers/")
    assert response.status_code == 200
    assert "schedulers" in response.content.decode()


def test_schedulers_page_lists_them_soonest_first(
    viewer_client: Client, admin_user_client: Client, queue: Any
) -> None:
    page = f"{MOUNT}default/q/emails/schedulers/"
    assert "No job schedulers." in viewer_client.get(page).content.decode()
    tomorrow = int(time.time() * 1000) + 86_400_000
    queue.upsert_job_scheduler("nightly", every=3_600_000, name="digest", start_date=tomorrow)
    queue.upsert_job_scheduler("often", every=60_000, name="ping", tz="Europe/Paris")
    body = viewer_client.get(page).content.decode()
    assert "No job schedulers." not in body
    assert 0 < body.index('id="scheduler-often"') < body.index('id="scheduler-nightly"')
    assert "<td>nightly</td><td>digest</td><td><code></code></td><td>1h 0m</td>" in body
    assert "<td>often</td><td>ping</td><td><code></code></td><td>1m 0s</td>" in body
    assert "<td>Europe/Paris</td>" in body
    assert "Remove</button>" not in body  # the viewer lacks the schedulers permission
    managed = admin_user_client.get(page).content.decode()
    assert managed.count("Remove</button>") == 2
    assert 'name="id" value="nightly"' in managed


def test_job_page_shows_children_in_the_flow_tree_with_counts(
    viewer_client: Client, dash_redis: str, queue: Any
) -> None:
    from queuecore import FlowProducer
    from tests.queue_helpers import fetch, finish

    with FlowProducer(dash_redis) as flows:
        node = flows.add(
            {
                "name": "parent",
                "queue_name": "emails",
                "children": [
                    {"name": "first", "queue_name": "emails"},
                    {"name": "second", "queue_name": "emails"},
                ],
            }
        )
    done = fetch(queue)
    assert done is not None
    finish(queue, done, value=1)
    pending = next(c.job.id for c in node.children if c.job.id != done)
    body = viewer_client.get(f"{MOUNT}default/q/emails/jobs/{node.job.id}/").content.decode()
    # A flow job: the tree shows its children (no Children section repeating them), with
    # the counts by kind the Children section gave.
    assert "<h2>Children</h2>" not in body
    start = body.index('<section class="qd-flow"')
    flow = body[start : body.index("</section>", start)]
    counts = flow[flow.index('id="flow-children"') :]
    counts = counts[: counts.index("</p>")]
    assert counts.index("1 pending") < counts.index("1 completed")
    for child in (pending, done):
        assert f'href="{MOUNT}default/q/emails/jobs/{child}/"' in flow
    plain = queue.add("plain", {})
    alone = viewer_client.get(f"{MOUNT}default/q/emails/jobs/{plain.id}/").content.decode()
    assert "<h2>Children</h2>" in alone and "No children." in alone


def test_unreachable_redis_is_shown_not_crashed(viewer_client: Client, settings: Any) -> None:
    settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"down": {"URL": "redis://127.0.0.1:1/0"}}}
    response = viewer_client.get(MOUNT)
    assert response.status_code == 200
    assert "Cannot read this connection" in response.content.decode()
    assert "Cannot reach Redis" in viewer_client.get(f"{MOUNT}down/redis/").content.decode()


def test_every_view_refuses_staff_without_view_permission(
    client: Client, make_user: Callable[..., User], queue: Any
) -> None:
    job = queue.add("x", {})
    client.force_login(make_user())
    for path in (
        "",
        "default/workers/",
        "default/redis/",
        "default/q/emails/",
        "default/q/emails/jump/?id=1",
        "default/q/emails/schedulers/",
        f"default/q/emails/jobs/{job.id}/",
        "default/q/emails/confirm/retry-all/",
    ):
        assert client.get(MOUNT + path).status_code == 403, path


def test_queue_rules_hide_queues(
    client: Client, make_user: Callable[..., User], settings: Any, queue: Any
) -> None:
    queue.add("x", {})
    settings.QUEUE_DASHBOARD = {
        **settings.QUEUE_DASHBOARD,
        "QUEUE_RULES": {"default:emails": {"view": ["mail"]}},
    }
    client.force_login(make_user("view"))
    assert 'data-queue="emails"' not in client.get(MOUNT).content.decode()
    assert client.get(f"{MOUNT}default/q/emails/").status_code == 403
    client.force_login(make_user("view", groups=("mail",)))
    assert client.get(f"{MOUNT}default/q/emails/").status_code == 200


def test_slow_discovery_is_cached_then_refreshed_in_background(
    dash_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from dashboard import conf
    from dashboard.services import discovery

    calls: list[int] = []
    refreshed = threading.Event()

    def fake_list_queues(url: str, prefix: str, limit: int) -> list[str]:
        calls.append(1)
        if len(calls) > 1:
            refreshed.set()
        return ["b", "a"] if len(calls) == 1 else ["a", "b", "c"]

    monkeypatch.setattr(discovery.queuecore, "list_queues", fake_list_queues)
    monkeypatch.setattr(discovery, "SLOW_SCAN_SECONDS", 0)  # every scan counts as slow
    conn = conf.get_settings().connection("default")
    assert conn is not None and conn.queues is None
    assert discovery.queue_names(conn) == ["a", "b"]
    assert discovery.queue_names(conn) == ["a", "b"]  # cached: no second scan
    assert len(calls) == 1
    key = next(iter(discovery._discovered))
    discovery._discovered[key] = (0.0, ["a", "b"])  # expired
    assert discovery.queue_names(conn) == ["a", "b"]  # stale list served at once
    assert refreshed.wait(5)
    for _ in range(100):
        if key not in discovery._refreshing:
            break
        threading.Event().wait(0.01)
    assert discovery.queue_names(conn) == ["a", "b", "c"]
    conf.reset()  # a settings change forgets what was discovered
    assert not discovery._discovered


def test_fast_discovery_is_not_cached(dash_redis: str, queue: Any) -> None:
    from dashboard import conf
    from dashboard.services import discovery

    conn = conf.get_settings().connection("default")
    assert conn is not None
    assert discovery.queue_names(conn) == []
    queue.add("x", {})
    assert discovery.queue_names(conn) == ["emails"]
