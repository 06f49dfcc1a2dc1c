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


def _cross_flow(dash_redis: str) -> str:
    """A parent in "emails" with children in "reports" and "invoices"."""
    with FlowProducer(dash_redis) as flows:
        node = flows.add({"name": "parent", "queue_name": "emails", "children": [
            {"name": "r", "queue_name": "reports"}, {"name": "i", "queue_name": "invoices"}]})
    return node.job.id


def test_the_bound_counts_the_childrens_queues_too(
    dash_redis: str, queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_view.close_flows()  # a producer of its own, whatever ran before
    parent = queue.get_job(_cross_flow(dash_redis))
    assert flow_view.flow_view("default", parent) is not None
    shared = flow_view._shared("default")
    assert {name for _, name in shared.queues} == {"emails", "reports", "invoices"}
    producer = shared.producer
    monkeypatch.setattr(flow_view, "MAX_FLOW_QUEUES", 3)
    other = queue.get_job(_flow(dash_redis, "emails"))
    flow_view.flow_view("default", other)  # a queue it has opened: read on
    assert shared.producer is producer
    from dashboard import connections

    fourth = connections.get_queue("default", "audits").get_job(_flow(dash_redis, "audits"))
    flow_view.flow_view("default", fourth)  # three opened already (not one): replaced
    assert shared.producer is not producer


def test_a_reset_waits_for_a_walk_and_a_stale_handle_keeps_nothing_open(
    dash_redis: str, queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk over a tree reads through the producer's connections (state, counts): a
    settings reset in another thread waits for it instead of closing them mid-read; a handle
    fetched just before the reset reads through a producer of its own, closed after."""
    import threading

    parent = queue.get_job(_cross_flow(dash_redis))
    shared = flow_view._shared("default")
    states: list[str] = []
    resets: list[threading.Thread] = []

    def walk(tree: Any) -> None:
        resetting = threading.Thread(target=conf.reset)
        resetting.start()
        resetting.join(0.2)
        assert resetting.is_alive()  # held by the walk
        todo = [tree]
        while todo:
            node = todo.pop()
            states.append(node.job.get_state())
            todo += node.children
        resets.append(resetting)

    shared.read(parent.id, "emails", walk)
    resets[0].join(30)
    assert sorted(states) == ["waiting", "waiting", "waiting-children"]
    assert shared.closed and shared.producer is None

    closed: list[object] = []
    real_close = FlowProducer.close

    def close(self: FlowProducer) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(FlowProducer, "close", close)
    assert flow_view.flow_view("default", parent) is not None  # a new handle: kept open
    fresh = flow_view._shared("default")
    assert fresh is not shared and fresh.producer is not None and closed == []
    counts = shared.read(parent.id, "emails", lambda tree: len(tree.children))
    assert counts == 2 and shared.producer is None and len(closed) == 1
