"""The jobs pages' read side through Django's test client: due times from the delayed
score, the delayed tab soonest first, flow badges and the flow section, the failed reason's
exception type and the times' server-side fallback."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.test import Client

from queuecore import FlowProducer
from tests.dashboard.conftest import MOUNT
from tests.dashboard.jobs import run_worker

pytestmark = pytest.mark.django_db


def _ids(body: str) -> list[str]:
    return re.findall(r'<tr class="qd-job-row" data-job-id="([^"]+)"', body)


def test_delayed_tab_soonest_due_first_with_due_times_from_the_score(
    viewer_client: Client, queue: Any
) -> None:
    day_ago = int(time.time() * 1000) - 86_400_000
    moved = queue.add("moved", {}, delay=3_600_000, timestamp=day_ago)
    moved.change_delay(7_200_000)  # due in 2 h from now; the hash's timestamp + delay is past
    soon = queue.add("soon", {}, delay=60_000)
    later = queue.add("later", {}, delay=3 * 3_600_000)
    body = viewer_client.get(f"{MOUNT}default/q/emails/?state=delayed").content.decode()
    assert _ids(body) == [soon.id, moved.id, later.id]
    assert "soonest due first" in body
    row = body[body.index(f'data-job-id="{moved.id}"'):]
    due = re.findall(r'<time class="qd-time" datetime="([^"]+)" data-qd-time="countdown"', row)[0]
    expected = queue.get_due_times([moved.id])[moved.id]
    assert expected is not None and expected > time.time() * 1000 + 7_000_000
    assert due.startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(expected / 1000)))
    body = viewer_client.get(f"{MOUNT}default/q/emails/?state=delayed&order=newest").content
    assert _ids(body.decode()) == [later.id, moved.id, soon.id]
    page = viewer_client.get(f"{MOUNT}default/q/emails/jobs/{moved.id}/").content.decode()
    assert 'data-qd-time="countdown"' in page


def test_flow_badge_and_flow_section(viewer_client: Client, dash_redis: str, queue: Any) -> None:
    plain = queue.add("plain", {})
    with FlowProducer(dash_redis) as flows:
        node = flows.add({"name": "parent", "queue_name": "emails",
                          "children": [{"name": "child", "queue_name": "emails"}]})
    body = viewer_client.get(f"{MOUNT}default/q/emails/?state=waiting-children").content.decode()
    assert body.count("qd-flow-badge") == 1
    body = viewer_client.get(f"{MOUNT}default/q/emails/?state=waiting").content.decode()
    assert plain.id in body and "qd-flow-badge" not in body
    page = viewer_client.get(f"{MOUNT}default/q/emails/jobs/{node.job.id}/").content.decode()
    section = page[page.index('<section class="qd-flow"'):]
    assert f"emails / {node.children[0].job.id}" in section
    assert "waiting children" in section
    page = viewer_client.get(f"{MOUNT}default/q/emails/jobs/{plain.id}/").content.decode()
    assert "qd-flow" not in page.replace("qd-flow-badge", "")


def test_failed_reason_gets_its_type_and_times_fall_back_to_utc(
    viewer_client: Client, dash_redis: str, queue: Any
) -> None:
    job = queue.add("fail-typed", {}, attempts=1)
    run_worker(dash_redis, queue, finished=1)
    stored = queue.get_job(job.id)
    assert stored.failed_reason == "boom <b>fail-typed</b>"  # as both peers store it
    page = viewer_client.get(f"{MOUNT}default/q/emails/jobs/{job.id}/").content.decode()
    assert "RuntimeError: boom &lt;b&gt;fail-typed&lt;/b&gt;" in page
    body = viewer_client.get(f"{MOUNT}default/q/emails/?state=failed").content.decode()
    assert "RuntimeError: boom" in body
    fallback = (r'<time class="qd-time" datetime="\d{4}-\d\d-\d\dT[\d:.]+Z" '
                r'data-qd-time="rel" title="[^"]+ UTC">\d{4}-\d\d-\d\d [\d:]+ UTC</time>')
    assert re.search(fallback, body)
