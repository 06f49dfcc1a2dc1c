from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard import formatting as f


def test_pretty_json_cut_and_full() -> None:
    value = {"text": "x" * 100}
    cut = f.pretty_json(value, 20)
    assert cut.truncated
    assert len(cut.text) == 20
    assert cut.full_length > 100
    full = f.pretty_json(value, None)
    assert not full.truncated
    assert full.text.startswith('{\n  "text"')


def test_pretty_json_keeps_markup_as_text() -> None:
    # Escaping is the template's job; the text must carry the markup unchanged.
    assert "<script>" in f.pretty_json({"a": "<script>"}, None).text


def test_ms_to_datetime() -> None:
    assert f.ms_to_datetime(0) is None
    assert f.ms_to_datetime(None) is None
    assert f.ms_to_datetime(1_700_000_000_000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, ""),
        (12, "12ms"),
        (5200, "5.2s"),
        (184_000, "3m 4s"),
        (3_720_000, "1h 2m"),
        (3 * 86_400_000, "3d 0h"),
    ],
)
def test_format_duration(ms: int | None, text: str) -> None:
    assert f.format_duration(ms) == text


@pytest.mark.parametrize(
    ("progress", "percent"),
    [(50, 50.0), (150, 100.0), (True, None), ({"percent": 20}, 20.0), ("half", None), ({}, None)],
)
def test_progress_percent(progress: object, percent: float | None) -> None:
    assert f.progress_percent(progress) == percent


def test_shorten_first_line() -> None:
    assert f.shorten("first\nsecond") == "first"
    assert f.shorten("a" * 10, 5) == "aaaa\u2026"
    assert f.shorten(None) == ""


def test_parse_keys() -> None:
    assert f.parse_job_key("bull:emails:42", "bull") == ("emails", "42")
    assert f.parse_job_key("other:emails:42", "bull") is None
    assert f.parse_job_key("bull:emails", "bull") is None
    assert f.parse_queue_key("bull:emails", "bull") == "emails"
    assert f.parse_queue_key("bull:", "bull") is None
