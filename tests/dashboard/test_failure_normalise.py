"""The failure classifier: exception type, masked message and application frame, for Python
and Node traces (text as queuecore's and Node bullmq's workers store it)."""

from __future__ import annotations

from dashboard.bulk.normalise import Failure, classify, mask, search_term

PY_TRACE = """Traceback (most recent call last):
  File "/srv/venv/lib/python3.12/site-packages/queuecore/worker/job_runner.py", line 88, in run
    result = await self.processor(job)
  File "/srv/app/billing/charge.py", line 41, in charge
    raise CardDeclined(f"card declined for {email} ({code})")
  File "/usr/lib/python3.12/asyncio/tasks.py", line 10, in wrapper
    raise
billing.errors.CardDeclined: card declined for ann@example.com (4021)"""

NODE_TRACE = """Error: card declined for bob@example.org (77)
    at processor (file:///srv/app/worker.mjs:181:11)
    at Worker.callProcessJob (/srv/app/node_modules/bullmq/dist/cjs/classes/worker.js:1:2)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"""

NODE_LIB_FIRST = """TypeError: Cannot read properties of undefined (reading 'id')
    at get (/srv/app/node_modules/lodash/get.js:5:3)
    at async handle (/srv/app/src/jobs/sync.js:12:9)"""


def test_mask_hides_every_variable_part() -> None:
    assert mask("card declined for ann@example.com (4021)") == "card declined for <email> (<n>)"
    assert (
        mask("order 3f2b8c1e-0c7d-4d6a-9a58-1f2e3d4c5b6a at 0xdeadbeef id deadbeef42 'x y'")
        == "order <uuid> at <hex> id <hex> <str>"
    )
    masked = mask('timeout after 1.5s on "db-7"\n\n  retry 3')
    assert masked == "timeout after <n>s on <str> retry <n>"
    assert mask("user42 failed") == "user<n> failed"
    assert len(mask("x" * 20_000)) == 300


def test_python_trace_gives_type_message_and_app_frame() -> None:
    f = classify("card declined for ann@example.com (4021)", ["older attempt", PY_TRACE])
    assert f == Failure("CardDeclined", "card declined for <email> (<n>)",
                        "charge (billing/charge.py:41)")
    other = "card declined for zed@example.net (9)"
    same = classify(other, [PY_TRACE.replace("card declined for ann@example.com (4021)", other)])
    assert same.key == f.key


def test_node_trace_gives_type_message_and_app_frame() -> None:
    f = classify("card declined for bob@example.org (77)", [NODE_TRACE])
    frame = "processor (app/worker.mjs:181)"
    assert f == Failure("Error", "card declined for <email> (<n>)", frame)
    g = classify("Cannot read properties of undefined (reading 'id')", [NODE_LIB_FIRST])
    assert g == Failure("TypeError", "Cannot read properties of undefined (reading <str>)",
                        "handle (jobs/sync.js:12)")


def test_reason_only_and_hostile_input() -> None:
    assert classify("ValueError: bad row 12", []) == Failure("ValueError", "bad row <n>", "")
    assert classify("", []) == Failure("Error", "", "")
    hostile = classify("<script>alert(1)</script>" + "A" * 20_000, ["\n" * 5000])
    assert classify("KeyError: 'qty'", [PY_TRACE]) == Failure("KeyError", "<str>", "")  # stale
    assert hostile.type == "Error" and len(hostile.message) <= 300
    assert search_term("card declined for <email> (<n>)") == "card declined for"
    assert search_term('it said "<str>" twice') == "it said"
