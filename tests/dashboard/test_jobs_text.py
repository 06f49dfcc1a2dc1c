"""Compact durations, the timeline's order, the failed reason's exception type, worker names
and the JSON tree: pure functions, no Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dashboard.durations import compact_duration, span
from dashboard.jobtext import reason_with_type, short_worker_name, worker_anchor, worker_identity
from dashboard.jsontree import MAX_DEPTH, json_tree
from dashboard.services.schedulers import in_zone
from dashboard.services.timeline import build_timeline
from dashboard.templatetags.qd_jobs import worker_row_id
from queuecore import JobRecord

NB = "\u00a0"


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, ""),
        (-5, ""),
        (True, ""),
        (0, "0 ms"),
        (850, "850 ms"),
        (3_249, "3.2 s"),
        (42_900, "42 s"),
        (250_000, f"4{NB}min{NB}10{NB}s"),
        (240_000, "4 min"),
        (7_500_000, f"2{NB}h{NB}5{NB}min"),
        (3 * 86_400_000 + 4 * 3_600_000, f"3{NB}d{NB}4{NB}h"),
    ],
)
def test_compact_duration(ms: Any, text: str) -> None:
    assert compact_duration(ms).replace(NB, " ") == text.replace(NB, " ")
    if NB in text:  # a number never wraps away from its unit
        assert compact_duration(ms) == text


def test_span_needs_both_ends_in_order() -> None:
    assert span(1000, 1850) == 850
    assert span(None, 5) is None
    assert span(2000, 1000) is None  # clock skew between hosts: unknown, not negative


def _labels(job: JobRecord) -> list[str]:
    return [e.kind for e in build_timeline(job, max_traces=20)]


def test_timeline_of_a_job_retried_then_failed_for_good() -> None:
    job = JobRecord(id="1", timestamp=1_000, processed_on=5_000, finished_on=6_000,
                    attempts_made=3, attempts_started=3, failed_reason="boom",
                    stacktrace=["Traceback\nValueError: a", "Traceback\nValueError: b",
                                "Traceback\nValueError: boom"])
    entries = build_timeline(job, max_traces=20)
    assert [e.kind for e in entries] == ["created", "failed-attempt", "failed-attempt",
                                         "started", "failed-attempt", "failed"]
    assert [e.label for e in entries if e.kind == "failed-attempt"] == [
        "attempt 1 failed", "attempt 2 failed", "attempt 3 failed"]
    assert entries[-2].detail == "ValueError: boom"
    assert entries[-1].detail == "took 1.0 s"


def test_timeline_ties_keep_the_order_of_a_job_life() -> None:
    # Everything in the same millisecond (a fast job): still created < started < completed.
    job = JobRecord(id="1", timestamp=1_000, processed_on=1_000, finished_on=1_000,
                    attempts_made=1, attempts_started=1, return_value={"ok": 1})
    assert _labels(job) == ["created", "started", "completed"]


def test_timeline_sorted_by_time_with_a_due_time_after_the_start() -> None:
    # Delayed, then failed once and waiting for its backoff: the attempt's failure follows
    # its start; the original due time precedes it.
    job = JobRecord(id="1", timestamp=1_000, delay=500, processed_on=2_000, attempts_made=1,
                    attempts_started=1, failed_reason="x", stacktrace=["Error: x\n    at f"])
    entries = build_timeline(job, max_traces=20)
    assert [e.kind for e in entries] == ["created", "delayed", "started", "failed-attempt"]
    assert entries[-1].detail == "Error: x"  # Node's trace: its first line


def test_timeline_of_a_running_retry() -> None:
    # The second attempt is running: the first one's failure came before it started.
    job = JobRecord(id="1", timestamp=1_000, processed_on=9_000, attempts_made=1,
                    attempts_started=2, failed_reason="x", stacktrace=["KeyError: x"])
    assert _labels(job) == ["created", "failed-attempt", "started"]


@pytest.mark.parametrize(
    ("reason", "trace", "shown"),
    [
        ("boom", "Traceback (most recent call last):\n  File \"w.py\"\nValueError: boom",
         "ValueError: boom"),
        ("boom", "Error: boom\n    at process (w.js:3:9)", "Error: boom"),
        ("ValueError: boom", "ValueError: boom", "ValueError: boom"),
        ("boom", "pkg.errors.Timeout: boom\n", "pkg.errors.Timeout: boom"),
        ("two\nlines", "Traceback\nRuntimeError: two\nlines", "RuntimeError: two\nlines"),
        ("boom", "something else entirely", "boom"),
        ("", "ValueError: boom", ""),
    ],
)
def test_reason_with_type(reason: str, trace: str, shown: str) -> None:
    assert reason_with_type(reason, [trace]) == shown
    assert reason_with_type(reason, []) == reason


def test_worker_names() -> None:
    assert worker_identity("bull:ZW1haWxz:w:web-1") == "web-1"
    assert worker_identity("plain") == "plain"
    assert short_worker_name("web-1") == "web-1"
    assert short_worker_name("0123456789abcdef0123456789abcdef") == "01234567\u2026"
    long = "billing-worker-eu-west-1-host-42-pid-31337"
    assert short_worker_name(long) == "billing-worker\u2026id-31337"
    assert worker_anchor("q", "a") != worker_anchor("r", "a")
    assert worker_anchor("q", "a").startswith("worker-")


def test_json_tree_escapes_and_folds() -> None:
    tree = json_tree({"<b>": "<script>x</script>", "list": [1, None, True]}, 2000)
    html = str(tree.html)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in html
    assert html.count("<details") == 2
    assert not tree.truncated


def test_json_tree_is_bounded() -> None:
    tree = json_tree({"big": "x" * 20_000, "n": list(range(1000))}, 500)
    assert tree.truncated
    assert "more characters" in str(tree.html)
    assert len(str(tree.html)) < 5000
    nested: Any = "bottom"
    for _ in range(100):
        nested = {"a": nested}
    deep = str(json_tree(nested, 2000).html)
    assert deep.count("<details") == MAX_DEPTH  # the rest as JSON text
    assert "bottom" in deep


def test_a_job_pages_worker_link_finds_its_row_on_the_workers_page() -> None:
    # The workers page lists CLIENT LIST names; a job stores the worker's own name.
    assert worker_row_id("emails", "bull:ZW1haWxz:w:web-1") == worker_anchor("emails", "web-1")
    assert worker_row_id("emails", "bull:emails:w:web-1") == worker_anchor("emails", "web-1")
    when = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert in_zone(when, "Europe/Paris") == "2026-07-01 14:00:00 CEST (Europe/Paris)"
    assert in_zone(when, "Not/AZone") == ""
    assert in_zone(when, "../../etc/passwd") == ""
    assert in_zone(None, "UTC") == ""
