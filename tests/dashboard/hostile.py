"""The hostile data set of the look tests and screenshots: a 256-character queue name,
markup and right-to-left names, 20,000-character data, log lines and failed reasons, a stack
trace, and a job in every state the dashboard shows (active held by a paused worker)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from queuecore import FlowProducer, Queue, Worker
from tests.waiting import TIMEOUT, wait_until

LONG = "x" * 20_000
LONG_NAME = ("very-long-queue-name-" * 13)[:256]
MARKUP_NAME = "<b>bold</b>&<script>alert(1)</script>"
RTL_NAME = "صف-الرسائل-العاجلة-\u202eevil\u202c-名前"
EMAILS = "emails"


@dataclass
class Seeded:
    """Ids of the seeded jobs, by what a test looks for."""

    ids: dict[str, str] = field(default_factory=dict)


async def _process(job: Any) -> Any:
    await job.log(f"processing {job.name} <i>markup</i> " + "ž" * 40)
    if job.name == "long-log":
        await job.log("L" * 20_000)
    await job.update_progress(60)
    if job.name.startswith("fail"):
        detail = LONG if job.name == "fail-long" else "<b>boom</b> صف"
        raise RuntimeError(f"{job.name}: {detail}")
    return {"ok": True, "echo": job.data}


def _work(url: str, queue: Queue, finished: int) -> None:
    def done() -> bool:
        return sum(queue.get_job_counts("completed", "failed").values()) >= finished

    async def main() -> None:
        worker = Worker(queue.name, _process, connection=url, concurrency=4)
        task = asyncio.create_task(worker.run())
        try:
            await wait_until(lambda: done() or task.done(), timeout=TIMEOUT,
                             what=f"{finished} jobs finished")
        finally:
            await worker.close()
            await asyncio.wait_for(task, 10)

    asyncio.run(main())


def seed(url: str) -> Seeded:
    out = Seeded()
    queue = Queue(EMAILS, connection=url)
    try:
        out.ids["completed"] = queue.add("welcome", {"to": "a@example.com", "long": LONG}).id
        out.ids["long_log"] = queue.add("long-log", {"rtl": RTL_NAME}).id
        out.ids["failed"] = queue.add("fail-long", {"markup": MARKUP_NAME}, attempts=1).id
        out.ids["failed_short"] = queue.add("fail-short", {}, attempts=1).id
        _work(url, queue, finished=4)
        out.ids["delayed"] = queue.add("later", {"x": 1}, delay=3_600_000).id
        out.ids["prioritized"] = queue.add("urgent", {"x": 2}, priority=3).id
        out.ids["waiting"] = queue.add(LONG[:1024], {"x": 3}).id  # the longest job name
        queue.upsert_job_scheduler("nightly-" + LONG[:300], pattern="0 3 * * *", tz="Europe/Berlin",
                                   name="report")
    finally:
        queue.close()
    flows = FlowProducer(connection=url)
    try:
        child = {"name": "child", "queue_name": MARKUP_NAME, "data": {}}
        node = flows.add({"name": "parent", "queue_name": EMAILS, "data": {},
                          "children": [child]})
        out.ids["parent"] = node.job.id
    finally:
        flows.close()
    for name in (LONG_NAME, MARKUP_NAME, RTL_NAME):
        other = Queue(name, connection=url)
        try:
            other.add("job " + name[:50], {"name": name})
            other.add("fail", {}, delay=1_000)
        finally:
            other.close()
    return out
