"""Job option validation and the BullMQ ``opts`` names, pure (no Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuecore import Backoff, InvalidOptionsError
from queuecore.base.options import (
    MAX_PRIORITY,
    JobOptions,
    JobOptionsDict,
    build_options,
    keep_jobs,
    validate_job_id,
)

NOW = 1_700_000_000_000


def build(**options: Any) -> JobOptions:
    return build_options(None, options, now_ms=NOW)


def test_defaults() -> None:
    opts = build()
    assert opts == JobOptions()
    assert opts.to_json() == {"attempts": 0}  # as Node writes it: no delay key when 0


def test_to_json_uses_bullmq_names() -> None:
    opts = build(job_id="abc", priority=3, delay=10, attempts=2, backoff=5, lifo=True,
                 remove_on_complete=True, remove_on_fail={"age": 10, "count": 2, "limit": 3},
                 stack_trace_limit=4, keep_logs=6, timestamp=12)
    assert opts.to_json() == {
        "attempts": 2, "delay": 10, "priority": 3, "jobId": "abc",
        "backoff": {"type": "fixed", "delay": 5}, "lifo": True, "removeOnComplete": True,
        "removeOnFail": {"age": 10, "count": 2, "limit": 3}, "stackTraceLimit": 4, "kl": 6,
    }
    assert opts.timestamp == 12


def test_defaults_are_overridden_per_job() -> None:
    opts = build_options({"attempts": 3, "priority": 2}, {"priority": 5}, now_ms=NOW)
    assert (opts.attempts, opts.priority) == (3, 5)


def test_run_at_in_defaults_loses_to_a_per_job_delay() -> None:
    later = datetime.fromtimestamp((NOW + 5000) / 1000, tz=UTC)
    opts = build_options({"run_at": later}, {"delay": 7}, now_ms=NOW)
    assert opts.delay == 7
    assert build_options({"run_at": later}, {}, now_ms=NOW).delay == 5000
    assert build_options({"delay": 7}, {"run_at": later}, now_ms=NOW).delay == 5000


def test_run_at_is_converted_from_any_timezone() -> None:
    due = NOW + 90_000
    tz = timezone(timedelta(hours=-7, minutes=-30))
    assert build(run_at=datetime.fromtimestamp(due / 1000, tz=tz)).delay == 90_000
    assert build(run_at=datetime.fromtimestamp(NOW / 1000, tz=UTC)).delay == 0


@pytest.mark.parametrize("bad", [
    datetime.fromtimestamp(NOW / 1000 - 1, tz=UTC),
    datetime(2030, 1, 1),
    "2030-01-01T00:00:00Z",
    NOW + 1000,
])
def test_bad_run_at(bad: Any) -> None:
    with pytest.raises(InvalidOptionsError):
        build(run_at=bad)


def test_timedelta_delay() -> None:
    assert build(delay=timedelta(minutes=1)).delay == 60_000
    assert build(delay=timedelta(0)).delay == 0
    with pytest.raises(InvalidOptionsError):
        build(delay=timedelta(milliseconds=-1))


def test_lifo_must_be_a_bool() -> None:
    assert build(lifo=False).lifo is False
    assert build(lifo=True).lifo is True
    for bad in ("no", 1, "true", [1]):
        with pytest.raises(InvalidOptionsError, match="lifo"):
            build(lifo=bad)


def test_none_means_unset_for_optional_options() -> None:
    opts = build(remove_on_complete=None, stack_trace_limit=None, keep_logs=None,
                 timestamp=None, priority=None, backoff=None)
    assert opts == JobOptions()


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_backoff_is_fixed_or_refused(value: float) -> None:
    try:
        opts = build(backoff=value)
    except InvalidOptionsError:
        return
    assert opts.backoff is not None
    assert opts.backoff.type == "fixed"
    assert opts.backoff.delay == int(value) >= 0


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan"),
                                 {"type": "fixed", "delay": float("inf")},
                                 {"type": "fixed", "delay": "abc"},
                                 {"type": "fixed", "delay": 1, "jitter": float("nan")}])
def test_non_finite_backoff_is_an_invalid_option(bad: Any) -> None:
    with pytest.raises(InvalidOptionsError, match="backoff"):
        build(backoff=bad)


def test_backoff_object_is_kept() -> None:
    assert build(backoff=Backoff("exponential", 10, 0.25)).backoff == Backoff(
        "exponential", 10, 0.25)
    assert build(backoff={"type": "custom-x", "delay": 1}).backoff == Backoff("custom-x", 1)


# -- job ids --------------------------------------------------------------------------------------


@pytest.mark.parametrize("good", ["a", "order-1", "a:b:c", "repeat:x:1700000000000", "1a",
                                  "x" * 512, "é", "-", "1.5", "1e3"])
def test_good_job_ids(good: str) -> None:
    assert validate_job_id(good) == good


@pytest.mark.parametrize("bad", ["", "1", "007", "-3", "a:b", "a:b:c:d", ":", "x" * 513,
                                 "a\tb", "a\x00", 12, None, b"ab"])
def test_bad_job_ids(bad: Any) -> None:
    with pytest.raises(InvalidOptionsError):
        validate_job_id(bad)


@given(st.integers())
def test_integer_strings_are_never_custom_ids(n: int) -> None:
    with pytest.raises(InvalidOptionsError):
        validate_job_id(str(n))


@given(st.text(alphabet=st.characters(min_codepoint=32, blacklist_characters=":"),
               min_size=1, max_size=512))
def test_text_without_colons_is_a_valid_id_unless_integer(text: str) -> None:
    if text.lstrip("-").isdigit() and text.lstrip("-").isascii():
        return
    assert validate_job_id(text) == text


# -- numbers --------------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=MAX_PRIORITY))
def test_every_priority_in_range_is_kept(p: int) -> None:
    opts = build(priority=p)
    assert opts.priority == p
    assert opts.to_json().get("priority", 0) == p


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_PRIORITY + 1)))
def test_priority_out_of_range(p: int) -> None:
    with pytest.raises(InvalidOptionsError):
        build(priority=p)


@given(st.integers(min_value=0, max_value=2**53))
def test_non_negative_integer_options_round_trip(n: int) -> None:
    opts = build(attempts=n, delay=n, stack_trace_limit=n, keep_logs=n, timestamp=n,
                 remove_on_complete=n, remove_on_fail={"count": n, "age": n})
    j = opts.to_json()
    assert (j["attempts"], j.get("delay", 0), j["stackTraceLimit"], j["kl"]) == (n, n, n, n)
    assert j["removeOnComplete"] == n
    assert j["removeOnFail"] == {"count": n, "age": n}


@given(st.integers(max_value=-1))
def test_negative_integers_are_refused(n: int) -> None:
    for name in ("attempts", "delay", "stack_trace_limit", "keep_logs", "timestamp",
                 "remove_on_complete"):
        with pytest.raises(InvalidOptionsError):
            build(**{name: n})


ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
    st.binary(max_size=3), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["type", "delay", "jitter", "age", "count", "limit", "x"]),
                    st.one_of(st.integers(), st.floats(), st.text(max_size=3), st.none()),
                    max_size=3),
    st.timedeltas(), st.datetimes(timezones=st.none() | st.just(UTC)),
)
OPTION_NAMES = ["job_id", "priority", "delay", "run_at", "attempts", "backoff", "lifo",
                "remove_on_complete", "remove_on_fail", "stack_trace_limit", "keep_logs",
                "timestamp"]


@given(st.sampled_from(OPTION_NAMES), ANY_VALUE)
def test_any_value_is_accepted_or_refused_with_invalid_options_error(
        name: str, value: Any) -> None:
    try:
        opts = build(**{name: value})
    except InvalidOptionsError:
        return
    # Whatever is accepted must serialise to plain JSON types.
    import json

    json.dumps(opts.to_json(), allow_nan=False)


@given(st.text(max_size=10).filter(lambda s: s not in JobOptionsDict.__annotations__),
       st.integers())
def test_unknown_option_names_are_refused(name: str, value: int) -> None:
    with pytest.raises(InvalidOptionsError, match="unknown"):
        build(**{name: value})


# -- keep_jobs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stored", "expected"), [
    (None, (-1, 0, 0)), (False, (-1, 0, 0)), (True, (0, 0, 0)), (0, (0, 0, 0)),
    (5, (5, 0, 0)), (-3, (0, 0, 0)), ({"age": 60}, (-1, 60, 0)),
    ({"count": 2, "age": 30, "limit": 7}, (2, 30, 7)), ({"count": 0}, (0, 0, 0)),
    ("weird", (-1, 0, 0)),
])
def test_keep_jobs(stored: Any, expected: tuple[int, int, int]) -> None:
    assert keep_jobs(stored) == expected


@given(st.one_of(st.none(), st.booleans(), st.integers(min_value=0, max_value=10**9),
                 st.fixed_dictionaries({}, optional={
                     "age": st.integers(0, 10**6), "count": st.integers(0, 10**6),
                     "limit": st.integers(0, 10**6)})))
def test_keep_jobs_of_any_valid_option(value: Any) -> None:
    opts = build(remove_on_complete=value)
    count, age, limit = keep_jobs(opts.to_json().get("removeOnComplete"))
    assert count >= -1
    assert age >= 0
    assert limit >= 0


def test_run_at_counts_from_the_timestamp_option() -> None:
    due = NOW + 10_000
    run_at = datetime.fromtimestamp(due / 1000, tz=UTC)
    opts = build(run_at=run_at, timestamp=NOW - 5_000)
    assert opts.timestamp is not None
    assert opts.timestamp + opts.delay == due
    with pytest.raises(InvalidOptionsError, match="before"):
        build(run_at=run_at, timestamp=due + 1)
