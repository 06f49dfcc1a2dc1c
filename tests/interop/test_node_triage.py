"""queuecore's trash <-> Node bullmq 6.7.0: jobs Node failed (with logs), removed into the
trash and restored by queuecore, are to Node the jobs they were (getJob, getJobLogs, state,
order), and a restored waiting job is processed by a Node worker."""

from __future__ import annotations

import pytest

from queuecore import Queue, Triage

from .conftest import NodePeer

pytestmark = pytest.mark.interop


def test_node_sees_trashed_jobs_restored(node_peer: NodePeer, redis_url: str) -> None:
    failing = [{"name": "pay", "data": {"fail": f"card declined {i}", "log": f"try {i}"}}
               for i in range(3)]
    added = node_peer({"queue": "tq", "actions": [
        {"op": "addBulk", "jobs": failing},
        {"op": "work", "count": 3},
        {"op": "add", "name": "later", "data": {"return": 7}},
    ]})["results"]
    failed_ids, later = added[0]["ids"], added[2]["id"]
    look = [{"op": "getJob", "id": i} for i in [*failed_ids, later]]
    logs = [{"op": "getLogs", "id": i} for i in failed_ids]
    order = [{"op": "getJobs", "states": ["failed"]}]
    before = node_peer({"queue": "tq", "actions": [*look, *logs, *order]})["results"]
    with Queue("tq", redis_url) as q:
        t = Triage(q)
        assert t.trash_each([*failed_ids, later], "undo1", 600) == [1, 1, 1, 1]
        gone = node_peer({"queue": "tq", "actions": look})["results"]
        assert gone == [None] * 4
        assert t.restore_trash("undo1") == (4, 0)
    after = node_peer({"queue": "tq", "actions": [*look, *logs, *order]})["results"]
    assert after == before
    assert [j["state"] for j in after[:4]] == ["failed"] * 3 + ["waiting"]
    assert after[4]["logs"] == ["try 0"]
    ran = node_peer({"queue": "tq", "actions": [{"op": "work", "count": 1}]})["results"]
    assert [(c["id"], c["returnvalue"]) for c in ran[0]["completed"]] == [(later, 7)]
