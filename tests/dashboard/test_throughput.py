from __future__ import annotations

from dashboard.throughput import HOUR_MS, bucketize, is_lower_bound, throughput

NOW = 10 * HOUR_MS


def test_bucketize_last_hour_only() -> None:
    counts = bucketize([NOW, NOW - 1, NOW - HOUR_MS + 1, NOW - HOUR_MS, NOW + 5, None], NOW)
    assert len(counts) == 12
    assert counts[-1] == 2
    assert counts[0] == 1
    assert sum(counts) == 3


def test_lower_bound_only_when_sample_full_inside_hour() -> None:
    assert not is_lower_bound([NOW - 10, NOW - 20], 3, NOW)
    assert is_lower_bound([NOW - 10, NOW - 20, NOW - 30], 3, NOW)
    assert not is_lower_bound([NOW - 10, NOW - 20, NOW - 2 * HOUR_MS], 3, NOW)


def test_bars_scale_to_peak() -> None:
    t = throughput([NOW - 1, NOW - 2], [NOW - 1], 100, NOW)
    assert (t.total_completed, t.total_failed) == (2, 1)
    bars = t.bars
    assert bars[-1].height == 40
    assert bars[-1].y == 0
    assert all(b.height == 0 for b in bars[:-1])


def test_empty_chart() -> None:
    assert all(b.height == 0 for b in throughput([], [], 10, NOW).bars)
