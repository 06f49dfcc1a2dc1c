"""Failure groups kept incrementally in side keys, on the private redis-server: jobs failed
by queuecore (Python tracebacks) and by a real Node bullmq worker, passes that read only what
is new, jobs that leave the failed set or fail again differently."""

from __future__ import annotations

import shutil

import pytest
import redis

from dashboard.bulk import groups as fg
from queuecore import Queue, Triage
from tests.interop.conftest import PEERS_DIR, NodePeer
from tests.queue_helpers import fetch, finish

PY = """Traceback (most recent call last):
  File "/srv/venv/lib/python3.12/site-packages/queuecore/worker/job_runner.py", line 8, in run
    x = await p(job)
  File "/srv/app/billing.py", line 41, in charge
    raise CardDeclined(msg)
billing.CardDeclined: {msg}"""


def _fail(q: Queue, reasons: list[str], *, trace: bool = True) -> list[str]:
    ids = [q.add("pay", {"i": i}).id for i in range(len(reasons))]
    for reason in reasons:
        job_id = fetch(q)
        assert job_id is not None
        finish(q, job_id, completed=False, value=reason,
               stacktrace=[PY.format(msg=reason)] if trace else None)
    return ids


def _by_message(t: Triage) -> dict[str, int]:
    return {f"{g.type}|{g.message}|{g.frame}": g.count for g in fg.groups(t)}


def test_groups_are_built_incrementally_and_follow_jobs(redis_url: str, r: redis.Redis) -> None:
    with Queue("billing", redis_url) as q:
        t = Triage(q)
        declined = _fail(q, [f"card declined for u{i}@ex.com ({400 + i})" for i in range(12)])
        timeouts = _fail(q, ["gateway timeout after 30s", "gateway timeout after 31s"])
        _fail(q, ["KeyError: 'sku'"], trace=False)
        assert fg.update(t) == fg.PassResult(15, False)
        frame = "charge (app/billing.py:41)"
        assert _by_message(t) == {
            f"CardDeclined|card declined for <email> (<n>)|{frame}": 12,
            f"CardDeclined|gateway timeout after <n>s|{frame}": 2,
            "KeyError|<str>|": 1,
        }
        top = fg.groups(t)[0]
        assert top.sample_id in declined and top.search == "card declined for"
        assert top.first_seen <= top.last_seen
        assert (top.max_attempts, top.avg_attempts) == (1, 1.0)
        # Nothing new: a pass reads nothing; new failures only are read.
        assert fg.update(t).indexed == 0
        _fail(q, ["card declined for z@ex.com (1)"])
        assert fg.update(t).indexed == 1
        assert fg.groups(t)[0].count == 13
        # Retried and removed jobs leave their group (lazily, on the next pass) ...
        q.get_job(declined[0]).retry()  # type: ignore[union-attr]
        q.remove(timeouts[0])
        fg.update(t)
        counts = sorted(g.count for g in fg.groups(t))
        assert counts == [1, 1, 12]
        # ... and a retried job that fails again differently moves to its new group.
        job_id = fetch(q)
        assert job_id == declined[0]
        finish(q, job_id, completed=False, value="gateway timeout after 9s",
               stacktrace=[PY.format(msg="gateway timeout after 9s")])
        fg.update(t)
        assert sorted(g.count for g in fg.groups(t)) == [1, 2, 12]
        # Failing again between two passes: the job moves without a prune.
        q.get_job(declined[1]).retry()  # type: ignore[union-attr]
        job_id = fetch(q)
        assert job_id == declined[1]
        finish(q, job_id, completed=False, value="KeyError: 'qty'")
        fg.update(t)
        assert sorted(g.count for g in fg.groups(t)) == [2, 2, 11]
        side = [str(k) for k in r.keys("bull:billing:qd:*")]
        assert side and not any(k.startswith("bull:billing:qd:trash") for k in side)


def test_a_pass_is_bounded_and_resumes(redis_url: str) -> None:
    with Queue("big", redis_url) as q:
        t = Triage(q)
        _fail(q, [f"oops {i}" for i in range(30)], trace=False)
        first = fg.update(t, budget_s=0.0, batch=10)
        assert first == fg.PassResult(10, True)
        while fg.update(t, budget_s=0.0, batch=10).pending:
            pass
        assert [g.count for g in fg.groups(t)] == [30]


def test_jobs_failed_by_a_node_worker(redis_url: str) -> None:
    node = shutil.which("node")
    if node is None or not (PEERS_DIR / "node_modules" / "bullmq").is_dir():
        pytest.fail("the Node peer is missing (make peers)", pytrace=False)
    peer = NodePeer(node, redis_url)
    jobs = [{"name": "pay", "data": {"fail": f"card declined for n{i}@ex.org ({i})"}}
            for i in range(4)] + [{"name": "pay", "data": {"fail": "quota 7f3a9c2e11 exceeded"}}]
    peer({"queue": "nodeq", "actions": [{"op": "addBulk", "jobs": jobs},
                                       {"op": "work", "count": 5}]})
    with Queue("nodeq", redis_url) as q:
        t = Triage(q)
        fg.update(t)
        got = {(g.type, g.message, g.count) for g in fg.groups(t)}
        assert got == {("Error", "card declined for <email> (<n>)", 4),
                       ("Error", "quota <hex> exceeded", 1)}
        frames = {g.frame for g in fg.groups(t)}
        assert all(f.startswith("Worker.processor (peers/node_peer.mjs:") for f in frames), frames
        sample = q.get_job(fg.groups(t)[0].sample_id)
        assert sample is not None and str(sample.failed_reason).startswith("card declined")
