"""The overview with many queues: sorted by what needs attention, filtered by name,
paginated, bad parameters ignored; and the history fragment's figures (test client)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import redis
from django.test import Client

from dashboard import charts
from tests.dashboard.conftest import MOUNT

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]


def _names(body: str) -> list[str]:
    return re.findall(r'<tr class="qd-queue-row[^"]*" data-queue="([^"]+)"', body)


def _seed(url: str, n: int) -> None:
    """``n`` queues q000..: a few with failures, one stuck (waiting, no worker), one paused."""
    r = redis.Redis.from_url(url)
    pipe = r.pipeline(transaction=False)
    now = int(time.time() * 1000)
    for i in range(n):
        base = f"bull:q{i:03d}:"
        pipe.hset(base + "meta", "opts.maxLenEvents", 10000)
        pipe.set(base + "id", 1)
        if i in (7, 30):
            pipe.zadd(base + "failed", {f"f{k}": now for k in range(i)})
        if i == 12:
            pipe.hset(base + "1", mapping={"name": "j", "data": "{}", "timestamp": now - 5000})
            pipe.lpush(base + "wait", "1")
        if i == 3:
            pipe.hset(base + "meta", "paused", 1)
            pipe.lpush(base + "wait", "x")
    pipe.execute()
    r.close()


def test_sorted_by_attention_filtered_and_paginated(viewer_client: Client,
                                                    dash_redis: str) -> None:
    _seed(dash_redis, 120)
    body = viewer_client.get(MOUNT).content.decode()
    names = _names(body)
    # failures first (most first), then the queue whose job waits with no worker
    assert names[:3] == ["q030", "q007", "q012"]
    assert len(names) == 50
    assert "page 1 of 3" in body
    assert "3 need attention" in body
    assert 'class="qd-badge qd-warning qd-no-workers"' in body
    paused_row = viewer_client.get(MOUNT, {"q": "q003"}).content.decode()
    assert _names(paused_row) == ["q003"]
    assert "qd-no-workers" not in paused_row  # paused explains the wait
    assert "qd-paused" in paused_row

    last = viewer_client.get(MOUNT, {"page": "3"}).content.decode()
    assert len(_names(last)) == 121 - 100  # 120 seeded + "reports" of the other connection
    by_name = viewer_client.get(MOUNT, {"sort": "name", "page": "2"}).content.decode()
    assert _names(by_name)[0] == "q050"
    assert 'rel="prev" ' in by_name or 'rel="prev">' in by_name
    assert "sort=name" in re.search(r'href="([^"]+)" rel="next"', by_name).group(1)

    found = viewer_client.get(MOUNT, {"q": "Q01"}).content.decode()  # case-insensitive
    assert set(_names(found)) == {f"q01{d}" for d in range(10)}
    assert _names(found)[0] == "q012"
    none = viewer_client.get(MOUNT, {"q": "zzz"}).content.decode()
    assert "No queue name contains" in none and _names(none) == []


@pytest.mark.parametrize("params", [{"page": "abc"}, {"sort": "bogus"}, {"page": "-4"},
                                    {"page": "99999"}, {"q": "x" * 5000}, {"sort": ""}])
def test_bad_parameters_are_ignored(viewer_client: Client, params: dict[str, str]) -> None:
    response = viewer_client.get(MOUNT, params)
    assert response.status_code == 200


def test_visible_queues_are_handed_to_the_live_socket(viewer_client: Client,
                                                      dash_redis: str) -> None:
    _seed(dash_redis, 60)
    body = viewer_client.get(MOUNT, {"sort": "name", "page": "2"}).content.decode()
    value = re.search(r'id="qd-visible-queues" value="([^"]*)"', body).group(1)
    assert "q050" in value and "q000" not in value


def test_queue_history_fragment_shows_seeded_metrics(viewer_client: Client, queue: Any,
                                                     dash_redis: str) -> None:
    r = redis.Redis.from_url(dash_redis, decode_responses=True)
    now = int(time.time() * 1000)
    # BullMQ's layout: 4 jobs in the current minute, data[i] the minute i+1 before it.
    r.hset("bull:emails:metrics:completed", mapping={"count": 20, "prevTS": now,
                                                     "prevCount": 16})
    r.rpush("bull:emails:metrics:completed:data", 3, 0, 5, 8)
    r.close()
    url = f"{MOUNT}default/q/emails/history/"
    body = viewer_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert body.startswith('<section class="qd-history"')
    completed = body.split('data-chart="completed"')[1].split("</figure>")[0]
    assert completed.count('class="qd-hbar qd-hbar-completed"') == 4
    assert [int(v) for v in re.findall(r'data-value="(\d+)"', completed)] == [8, 5, 3, 4]
    cells = re.findall(r'<td class="qd-num">(\d+)</td>', completed)
    assert sum(map(int, cells)) == 20 and len(cells) == 60
    assert 'data-counts-source="metrics"' in body
    page = viewer_client.get(url, {"range": "7d"}).content.decode()
    assert 'data-range="7d"' in page and "<h1>" in page
    assert viewer_client.get(url, {"range": "bogus"}).status_code == 200
    assert viewer_client.get(f"{MOUNT}default/history/", {"range": "24h"}).status_code == 200


def test_chart_math() -> None:
    assert charts.nice_max(0) == 1 and charts.nice_max(7) == 10 and charts.nice_max(21) == 25
    assert charts.regroup([1, 2, 3, 4, 5], 2) == [3, 7, 5]
    assert charts.nearest_rank([5, 1, 3, 2, 4], 50) == 3
    assert charts.nearest_rank([], 99) is None
    starts = charts.slot_starts(10 * 3_600_000 + 5, "24h")
    assert len(starts) == 24 and starts[-1] == 10 * 3_600_000
    chart = charts.bar_chart(starts, [0] * 23 + [4], "24h")
    assert len(chart.bars) == 1 and chart.total == 4
    lines = charts.line_chart(starts[:3], {"p50": [1.0, None, 3.0]}, "24h")
    assert lines.points == 2 and lines.lines[0].path.count("M") == 2


def test_without_timings_the_percentiles_come_from_recent_jobs(
        viewer_client: Client, dash_redis: str) -> None:
    """Finished jobs as a Node worker leaves them (no qc:timings): exact times, labelled."""
    r = redis.Redis.from_url(dash_redis)
    now = int(time.time() * 1000)
    for i, (wait, took) in enumerate(((100, 40), (300, 80), (200, 60))):
        finished = now - 1000 * i
        r.hset(f"bull:node:{i}", mapping={"name": "j", "data": "{}", "opts": "{}",
                                          "timestamp": finished - took - wait,
                                          "processedOn": finished - took,
                                          "finishedOn": finished})
        r.zadd("bull:node:completed", {str(i): finished})
    r.hset("bull:node:meta", "opts.maxLenEvents", 10000)
    r.close()
    body = viewer_client.get(f"{MOUNT}default/q/node/history/",
                             HTTP_HX_REQUEST="true").content.decode()
    assert 'data-timings-source="jobs"' in body and "newest 3 finished jobs" in body
    assert 'data-counts-source="retained"' in body
    processing = body.split('data-chart="processing"')[1].split("</figure>")[0]
    assert "p50 <strong>60ms</strong>" in processing
    assert "p99 <strong>80ms</strong>" in processing
