"""Hostile queue names and job ids in URLs (traversal, NUL, glob
characters, very long, bytes that are not UTF-8, colon tricks that name a queue's own keys)
get 404 on every route and are refused before accept on every socket; never a 500, never a
Redis call with the name. Names reach a SCAN pattern only through queuecore, which refuses
glob characters; a name with a slash still has a working link."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
import redis
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from django.test import Client

from dashboard import connections, names
from dashboard.live import feeds
from queuecore import Queue, list_queues
from tests.dashboard.conftest import MOUNT
from tests.dashboard.live_helpers import communicator, session_cookie

pytestmark = [pytest.mark.timeout(30)]

#: Raw path segments, as a client could send them.
BAD_QUEUES = (
    "a:b",
    "emails:1",
    "*",
    "e*",
    "e%3Fails",
    "%5Bemails%5D",
    "[a-z]*",
    "%00",
    "a%00b",
    "a%0Ab",
    "a%7Fb",
    "..%5C..%5Cetc",
    "%2E%2E",
    "x" * 5000,
    "%FF%FE",
    "%C3%28",
    "%ED%A0%80",
    "100%",
    "%25",
    "a%5Cb",
)
BAD_JOB_IDS = (
    "1:lock",
    "1:logs",
    "wait",
    "meta",
    "events",
    "id",
    "limiter",
    "repeat",
    "marker",
    "metrics:completed:data",
    "repeat:x:1:logs",
    "de:abc",
    "%00",
    "1%0A2",
    "9" * 5000,
    "%FF",
    "%ED%A0%80",
    "1%",
)
TRAVERSAL = (
    "default/q/../../../../etc/passwd/",
    "default/q/..%2F..%2Fsecret/",
    "default/q/emails/jobs/..%2F..%2F..%2Fredis/",
    "default/q/emails/jobs/%2E%2E/",
    "..%2F/workers/",
    "%00/workers/",
    "%FF/redis/",
    "*/workers/",
)


def _routes(queue: str, job: str) -> list[tuple[str, str]]:
    q = f"default/q/{queue}/"
    j = f"default/q/emails/jobs/{job}/"
    return [
        ("GET", q), ("GET", q + "jump/?id=1"), ("GET", q + "schedulers/"),
        ("GET", q + "confirm/drain/"), ("POST", q + "actions/pause/"),
        ("POST", q + "schedulers/remove/"), ("GET", f"{q}jobs/1/"),
        ("POST", f"{q}jobs/1/retry/"), ("GET", j), ("POST", j + "remove/"),
    ]


@pytest.fixture
def boss(make_user: Callable[..., User], dash_redis: str) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(make_user(superuser=True))
    return client


@pytest.fixture
def planted(dash_redis: str, r: redis.Redis) -> None:
    queue = Queue("emails", connection=dash_redis)
    job = queue.add("first", {"n": 1})
    job.log("line")
    queue.add("x", {}, job_id="repeat:x:1")
    r.set("bull:emails:1:lock", "token")
    r.lpush("bull:emails:metrics:completed:data", "1")
    queue.close()


def _fingerprint(r: redis.Redis) -> dict[str, Any]:
    return {k: r.dump(k) for k in r.scan_iter()}


@pytest.mark.django_db
@pytest.mark.parametrize("queue", BAD_QUEUES)
def test_hostile_queue_name_gets_404(
    queue: str, boss: Client, planted: None, r: redis.Redis
) -> None:
    before = _fingerprint(r)
    with mock.patch.object(connections, "get_queue", side_effect=AssertionError("used")):
        for method, path in _routes(queue, "1"):
            if "/q/emails/" in path:
                continue
            response = getattr(boss, method.lower())(MOUNT + path)
            assert response.status_code == 404, f"{method} {path[:80]}: {response.status_code}"
    assert _fingerprint(r) == before


@pytest.mark.django_db
@pytest.mark.parametrize("job_id", BAD_JOB_IDS)
def test_hostile_job_id_gets_404(
    job_id: str, boss: Client, planted: None, r: redis.Redis
) -> None:
    before = _fingerprint(r)
    for method, path in _routes("emails", job_id):
        if "/jobs/" not in path or "/q/emails/jobs/1/" in path:
            continue
        response = getattr(boss, method.lower())(MOUNT + path)
        assert response.status_code == 404, f"{method} {path[:80]}: {response.status_code}"
    assert _fingerprint(r) == before


@pytest.mark.django_db
@pytest.mark.parametrize("path", TRAVERSAL)
def test_traversal_gets_404(path: str, boss: Client, planted: None) -> None:
    assert boss.get(MOUNT + path).status_code == 404


@pytest.mark.django_db
def test_a_job_id_naming_another_key_type_is_404_not_500(
    boss: Client, planted: None, r: redis.Redis
) -> None:
    """Past the id rules (a 3-part id that is a list in Redis): WRONGTYPE is a 404."""
    r.rpush("bull:emails:a:b:c", "x")
    assert boss.get(MOUNT + "default/q/emails/jobs/a:b:c/").status_code == 404
    response = boss.post(MOUNT + "default/q/emails/jobs/a:b:c/retry/")
    assert response.status_code == 303  # refused by queuecore, reported, not a crash


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["a/b", "50%", "%2F", "100%25off", "sp ace", "ü/ñ"])
def test_names_with_slash_and_percent_have_working_links(
    name: str, boss: Client, dash_redis: str
) -> None:
    queue = Queue(name, connection=dash_redis)
    job = queue.add("n", {}, job_id=f"job/{name}")
    queue.close()
    overview = boss.get(MOUNT)
    assert overview.status_code == 200
    from django.urls import reverse

    link = reverse("queue_dashboard:queue", args=["default", name])
    assert link.encode() in overview.content
    page = boss.get(link)
    assert page.status_code == 200
    job_link = reverse("queue_dashboard:job", args=["default", name, job.id])
    assert job_link.encode() in page.content
    assert boss.get(job_link).status_code == 200
    jump = boss.get(link + "jump/", {"id": job.id})
    assert jump.status_code == 302


def test_name_rules() -> None:
    for ok in ("emails", "a/b", "ü", "repeat:x:1", "1", "a b"):
        names.check_job_id(ok)
    for bad in ("", "a:b", "wait", "x" * 601, "a\x00", "a\ufffd", "metrics:failed:data"):
        with pytest.raises(ValueError, match=r"."):
            names.check_job_id(bad)
    for raw in ("%FF", "%", "a%2", "%41"):
        with pytest.raises(ValueError, match="percent-escape"):
            names.decode_segment(raw)
    for value in ("a/b", "50%", "%2F", "%25", "plain"):
        assert names.decode_segment(names.encode_segment(value)) == value


def test_no_user_text_reaches_a_scan_pattern(dash_redis: str) -> None:
    """Only queuecore SCANs, with the configured prefix, which it validates; queue names from
    URLs are checked by the converter before any view (and so any Queue) sees them."""
    for prefix in ("bull*", "b?ll", "[b]ull", "bu\\ll", "x\x00"):
        with pytest.raises(ValueError, match="glob"):
            list_queues(dash_redis, prefix=prefix)


# -- sockets ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "path",
    [
        *(f"default/q/{quote(q, safe='%')}/" for q in ("a:b", "e*", "[x]", "a\x00b", "x" * 300)),
        *(f"default/q/emails/jobs/{quote(j, safe='%')}/" for j in BAD_JOB_IDS[:13]),
        "default/q/%FF/",
        "default/q/emails/jobs/%25ZZ/",
    ],
)
async def test_hostile_names_on_sockets_are_refused_before_accept(
    path: str, make_user: Callable[..., User], dash_redis: str, settings: Any
) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "LIVE_RECHECK_SECONDS": 3600}
    cookie = await database_sync_to_async(lambda: session_cookie(make_user(superuser=True)))()
    comm = communicator(path, cookie)
    connected, code = await comm.connect()
    assert not connected
    assert code == 4404, code
    assert feeds.registry().feeds == {}
