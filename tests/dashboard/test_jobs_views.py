"""The jobs pages' read side through Django's test client: due times from the delayed
score, the delayed tab soonest first, flow badges and the flow section, the failed reason's
exception type and the times' server-side fallback."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Any

import pytest
from django.test import Client

from queuecore import FlowProducer, Worker
from tests.dashboard.conftest import MOUNT
from tests.dashboard.jobs import run_worker
from tests.waiting import wait_for

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
    # The tree names the child (the Children section that repeated it is gone).
    assert f'<span class="qd-flow-queue">emails</span> / {node.children[0].job.id}' in section
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


def test_flow_section_is_bounded(viewer_client: Client, dash_redis: str, queue: Any) -> None:
    def section(job_id: str) -> str:
        page = viewer_client.get(f"{MOUNT}default/q/emails/jobs/{job_id}/").content.decode()
        start = page.index('<section class="qd-flow"')
        return page[start:page.index("</section>", start)]

    with FlowProducer(dash_redis) as flows:
        wide = flows.add({"name": "wide", "queue_name": "emails", "children": [
            {"name": f"c{n}", "queue_name": "emails"} for n in range(9)]})
        deep = flows.add({"name": "l1", "queue_name": "emails", "children": [
            {"name": "l2", "queue_name": "emails", "children": [
                {"name": "l3", "queue_name": "emails", "children": [
                    {"name": "l4", "queue_name": "emails"}]}]}]})
    shown = section(wide.job.id)
    assert shown.count('class="qd-flow-node') == 1 + 6  # 6 children read per kind
    assert "3 more children" in shown
    shown = section(deep.job.id)
    assert shown.count('class="qd-flow-node') == 3  # three levels
    assert shown.count("has children: open it to see them") == 1  # l3, whose l4 is below


def test_worker_link_meets_its_row(viewer_client: Client, dash_redis: str, queue: Any) -> None:
    job = queue.add("work", {})
    ready = threading.Event()
    stop = threading.Event()

    async def processor(_job: Any) -> Any:
        return 1

    async def main() -> None:
        worker = Worker("emails", processor, connection=dash_redis, name="web-7-" + "x" * 40)
        task = asyncio.create_task(worker.run())
        ready.set()
        await asyncio.to_thread(stop.wait, 60)  # the test's thread says when to stop
        await worker.close()
        await task

    thread = threading.Thread(target=lambda: asyncio.run(main()))
    thread.start()
    try:
        ready.wait(30)
        wait_for(lambda: queue.get_job(job.id).finished_on, what="the job done")
        wait_for(lambda: queue.get_workers(), what="the worker listed")
        page = viewer_client.get(f"{MOUNT}default/q/emails/jobs/{job.id}/").content.decode()
        anchor = re.search(r'<a class="qd-worker" href="([^"#]+)#(worker-[0-9a-f]+)" '
                           r'title="worker (web-7-x+)">web-7-x+\u2026x+</a>', page)
        assert anchor, page[page.index("Processed"):][:600]
        workers = viewer_client.get(anchor.group(1)).content.decode()
        assert f'<tr id="{anchor.group(2)}" class="qd-worker-row">' in workers
    finally:
        stop.set()
        thread.join(30)


def test_a_cut_json_says_so_outside_its_folds(viewer_client: Client, queue: Any) -> None:
    job = queue.add("big", {"text": "<b>" * 2_000, "n": 1})
    page = viewer_client.get(f"{MOUNT}default/q/emails/jobs/{job.id}/").content.decode()
    block = page[page.index('id="jsonblock-data"'):]
    block = block[:block.index('id="jsonblock-opts"')]
    note = block[block.index("</details>\n<p class=\"qd-cut\">"):]
    assert 'href="?full=data#jsonblock-data"' in note
    assert "&lt;b&gt;&lt;b&gt;" in block and "<b><b>" not in block
    assert '<span class="qd-j-key">n</span>' not in block  # beyond the preview's budget
    whole = viewer_client.get(f"{MOUNT}default/q/emails/jobs/{job.id}/?full=data")
    block = whole.content.decode()
    block = block[block.index('id="jsonblock-data"'):block.index('id="jsonblock-opts"')]
    assert '<span class="qd-j-key">n</span>' in block and 'class="qd-cut"' not in block
