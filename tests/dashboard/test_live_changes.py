"""Folding BullMQ events into what a page must refresh (pure), and the live settings."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard import conf
from dashboard.live.changes import MAX_FAILURES, Changes, fold
from queuecore import QueueEvent


def ev(name: str, **fields: str) -> QueueEvent:
    return QueueEvent("1-0", name, fields)


def test_job_moves_mark_the_lists_they_touch() -> None:
    changes = fold([ev("active", jobId="1", prev="waiting"), ev("completed", jobId="1")])
    assert {"active", "waiting", "completed"} <= changes.states
    assert "failed" not in changes.states
    assert changes.jobs == {"1": "completed"}
    assert not changes.full


def test_progress_keeps_the_latest_value_only() -> None:
    changes = fold([ev("progress", jobId="7", data="10"), ev("progress", jobId="7", data="90")])
    assert changes.progress == {"7": "90"}
    assert changes.states == set()
    assert changes.touches("active", frozenset({"7"}))
    assert not changes.touches("active", frozenset({"8"}))


def test_queue_wide_and_unknown_events() -> None:
    assert fold([ev("drained")]).full
    assert fold([ev("cleaned", count="3")]).full
    unknown = fold([ev("some-future-event", jobId="1")])
    assert unknown.touches("completed", frozenset())
    removed = fold([ev("removed", jobId="1", prev="delayed")])
    assert removed.states == {"delayed"}


def test_failures_are_bounded_and_counted() -> None:
    changes = fold([ev("failed", jobId=str(i), failedReason=f"r{i}") for i in range(10)])
    assert len(changes.failures) == MAX_FAILURES
    assert changes.more_failures == 10 - MAX_FAILURES
    merged = Changes()
    merged.merge(changes)
    merged.merge(changes)
    assert len(merged.failures) == MAX_FAILURES
    assert merged.more_failures == 20 - MAX_FAILURES


def test_merge_keeps_only_the_jobs_asked_for() -> None:
    batch = fold([ev("progress", jobId="1", data="5"), ev("progress", jobId="2", data="6")])
    mine = Changes()
    mine.merge(batch, jobs=frozenset({"2"}))
    assert mine.progress == {"2": "6"}
    assert mine.jobs == {"2": "progress"}
    assert mine.events == 2


def test_log_changes_are_kept_for_the_jobs_asked_for_only() -> None:
    grown = Changes(logs={"1", "2"})
    assert grown  # no event, yet something to refresh
    mine = Changes()
    mine.merge(grown, jobs=frozenset({"2"}))
    assert mine.logs == {"2"}
    assert mine.jobs == {}
    assert not mine.touches("active", frozenset({"2"}))  # a list page has nothing to re-read
    everything = Changes()
    everything.merge(grown)
    assert everything.logs == {"1", "2"}
    other = Changes()
    other.merge(grown, jobs=frozenset({"3"}))
    assert not other


def test_pause_events_flip_the_flag() -> None:
    assert fold([ev("paused")]).pause_flag
    assert not fold([ev("waiting", jobId="1")]).pause_flag
    assert not Changes()


def test_live_settings_defaults_and_validation() -> None:
    parsed = conf.parse({})
    assert parsed.live
    assert parsed.live_url == "/ws/queue-dashboard/"
    assert parsed.live_updates_per_second == 4
    assert parsed.live_recheck_seconds == 30
    custom = conf.parse({"LIVE_UPDATES_PER_SECOND": 2, "LIVE_URL": "/ws/q/", "LIVE": False})
    assert (custom.live_updates_per_second, custom.live_url, custom.live) == (2, "/ws/q/", False)
    with pytest.raises(ImproperlyConfigured):
        conf.parse({"LIVE_UPDATES_PER_SECOND": 0})
    with pytest.raises(ImproperlyConfigured):
        conf.parse({"LIVE_URL": "ws/no-slash"})
