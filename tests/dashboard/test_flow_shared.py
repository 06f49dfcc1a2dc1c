"""The flow view reads through one FlowProducer per dashboard connection: a job page's
render opens no connection once the first has, the producer is closed with the connection's
queues (settings reset) and replaced when it has read too many queues' flows."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dashboard import conf
from dashboard.services import flow_view
from queuecore import FlowProducer
from tests.dashboard.conftest import MOUNT
from tests.roundtrips import counted

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]


def _flow(dash_redis: str, queue: str = "emails") -> str:
    with FlowProducer(dash_redis) as flows:
        node = flows.add({"name": "parent", "queue_name": queue,
                          "children": [{"name": "child", "queue_name": queue}]})
    return node.job.id


def test_a_job_page_opens_no_connection_for_its_flow(viewer_client: Client,
                                                     dash_redis: str) -> None:
    parent = _flow(dash_redis)
    url = f"{MOUNT}default/q/emails/jobs/{parent}/"
    for _ in range(2):  # the page's queues connected (a pipeline may take a second one)
        assert 'class="qd-flow"' in viewer_client.get(url).content.decode()
    with counted() as seen:
        for _ in range(3):
            assert 'class="qd-flow"' in viewer_client.get(url).content.decode()
    assert seen.connects == 0  # was one new producer, with its connection, per render
    shared = flow_view._shared("default")
    producer = shared.producer
    assert producer is not None
    viewer_client.get(url)
    assert shared.producer is producer


def test_the_producer_closes_with_the_settings_and_is_bounded(
        dash_redis: str, queue: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    first = queue.get_job(_flow(dash_redis))
    other = _flow(dash_redis, "reports")
    assert flow_view.flow_view("default", first) is not None
    shared = flow_view._shared("default")
    producer = shared.producer
    assert producer is not None
    closed: list[object] = []
    monkeypatch.setattr(type(producer), "close",
                        lambda self: closed.append(self), raising=True)
    monkeypatch.setattr(flow_view, "MAX_FLOW_QUEUES", 1)
    from dashboard import connections

    assert flow_view.flow_view("default", connections.get_queue("default", "reports")
                               .get_job(other)) is not None
    assert closed == [producer]  # a second queue's flow: past the bound, replaced
    replaced = shared.producer
    assert replaced is not None and replaced is not producer
    conf.reset()
    assert closed == [producer, replaced]
    assert flow_view._shared("default") is not shared
