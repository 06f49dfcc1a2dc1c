"""Backoff math, pure: fixed, exponential (round(2^(n-1) * delay)), jitter, custom strategies."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuecore import Backoff, compute_backoff
from queuecore.base.backoff import parse_backoff

DELAYS = st.integers(min_value=0, max_value=10**7)
ATTEMPTS = st.integers(min_value=1, max_value=30)
UNIT = st.floats(min_value=0, max_value=1, exclude_max=True)


def test_none_backoff_means_retry_at_once() -> None:
    assert compute_backoff(None, 3) == 0


def test_observed_exponential_sequence() -> None:
    b = Backoff("exponential", 100)
    assert [compute_backoff(b, n) for n in (1, 2, 3, 4)] == [100, 200, 400, 800]


@given(DELAYS, ATTEMPTS)
def test_fixed_is_constant(delay: int, n: int) -> None:
    assert compute_backoff(Backoff("fixed", delay), n) == delay


@given(DELAYS, ATTEMPTS)
def test_exponential_formula(delay: int, n: int) -> None:
    assert compute_backoff(Backoff("exponential", delay), n) == round(2 ** (n - 1) * delay)


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=29))
def test_exponential_doubles(delay: int, n: int) -> None:
    b = Backoff("exponential", delay)
    first, second = compute_backoff(b, n), compute_backoff(b, n + 1)
    assert first is not None
    assert second == 2 * first


@given(DELAYS, ATTEMPTS, st.floats(min_value=0, max_value=1), UNIT,
       st.sampled_from(["fixed", "exponential"]))
def test_jitter_stays_in_range(delay: int, n: int, jitter: float, u: float, kind: str) -> None:
    b = Backoff(kind, delay, jitter)
    base = compute_backoff(Backoff(kind, delay), n)
    assert base is not None
    got = compute_backoff(b, n, rand=lambda: u)
    assert got is not None
    low = int(base * (1 - jitter)) if jitter else base
    assert low - 1 <= got <= base
    if jitter and base:
        assert got <= base  # never above the un-jittered delay


@given(st.integers(min_value=1, max_value=10**6))
def test_jitter_extremes(delay: int) -> None:
    b = Backoff("fixed", delay, 0.5)
    assert compute_backoff(b, 1, rand=lambda: 0.0) == int(delay * 0.5)
    top = compute_backoff(b, 1, rand=lambda: 0.999999)
    assert top is not None
    assert top <= delay
    assert compute_backoff(Backoff("fixed", delay, 1.0), 1, rand=lambda: 0.0) == 0


def test_jitter_uses_the_random_source_by_default() -> None:
    b = Backoff("fixed", 1000, 1.0)
    seen = {compute_backoff(b, 1) for _ in range(50)}
    assert all(s is not None and 0 <= s <= 1000 for s in seen)
    assert len(seen) > 1


def test_custom_strategy() -> None:
    calls: list[tuple[int, str, Any, Any]] = []

    def strategy(n: int, kind: str, err: BaseException | None, job: Any) -> int:
        calls.append((n, kind, err, job))
        return n * 7

    err = RuntimeError("x")
    assert compute_backoff(Backoff("linear"), 3, error=err, job="J", strategy=strategy) == 21
    assert calls == [(3, "linear", err, "J")]


@pytest.mark.parametrize("result", [None, -1, -0.5])
def test_custom_strategy_can_stop_retries(result: Any) -> None:
    assert compute_backoff(Backoff("c"), 1, strategy=lambda *a: result) is None


def test_custom_strategy_float_is_truncated() -> None:
    assert compute_backoff(Backoff("c"), 1, strategy=lambda *a: 12.9) == 12


def test_custom_type_without_strategy() -> None:
    with pytest.raises(ValueError, match="backoff_strategy"):
        compute_backoff(Backoff("mine", 5), 1)


def test_accepts_what_the_backoff_option_accepts() -> None:
    """A number, a dict or a Backoff, as the ``backoff=`` job option takes them."""
    assert compute_backoff(250, 3) == 250
    assert compute_backoff({"type": "exponential", "delay": 100}, 3) == 400
    assert compute_backoff({"type": "fixed", "delay": 100, "jitter": 0.5}, 1,
                           rand=lambda: 0.0) == 50
    assert compute_backoff(Backoff("exponential", 100), 3) == 400
    assert compute_backoff(None, 3) == 0
    for bad in ("100", True, {"kind": "fixed"}, -5, {"delay": 10, "jitter": 2}):
        with pytest.raises(ValueError, match="backoff"):
            compute_backoff(bad, 1)  # type: ignore[arg-type]


# -- parsing --------------------------------------------------------------------------------------


@given(DELAYS)
def test_number_parses_as_fixed(delay: int) -> None:
    assert parse_backoff(delay) == Backoff("fixed", delay)


@given(st.sampled_from(["fixed", "exponential", "custom"]), DELAYS,
       st.floats(min_value=0, max_value=1))
def test_dict_round_trip(kind: str, delay: int, jitter: float) -> None:
    b = parse_backoff({"type": kind, "delay": delay, "jitter": jitter})
    assert b == Backoff(kind, delay, jitter)
    assert parse_backoff(b.to_json()) == b
    if not jitter:
        assert "jitter" not in b.to_json()


def test_dict_defaults() -> None:
    assert parse_backoff({}) == Backoff("fixed", 0)
    assert parse_backoff({"type": "exponential"}) == Backoff("exponential", 0)
    assert parse_backoff(None) is None


@pytest.mark.parametrize("bad", [True, "100", [100], {"type": "fixed", "delay": -1},
                                 {"delay": 1, "jitter": 1.5}, {"delay": 1, "jitter": -0.1},
                                 {"type": ""}, {"type": "fixed", "bogus": 1}, -5])
def test_bad_backoff(bad: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        parse_backoff(bad)


@given(st.floats(min_value=1.0001, allow_nan=False) | st.floats(max_value=-0.0001,
                                                               allow_nan=False))
def test_jitter_outside_unit_interval_is_refused(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        parse_backoff({"type": "fixed", "delay": 1, "jitter": jitter})
