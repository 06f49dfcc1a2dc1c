"""The shared option checks (queuecore/base/validation.py), pure (no Redis)."""

from __future__ import annotations

from typing import Any

import pytest

from queuecore import InvalidOptionsError
from queuecore.base.validation import (
    int_at_least,
    non_negative_int,
    non_negative_number,
    optional_positive_int,
    positive_int,
    positive_number,
)


def test_integers_pass_through_unchanged() -> None:
    assert positive_int("n", 1) == 1
    assert non_negative_int("n", 0) == 0
    assert int_at_least("n", 5, 5) == 5
    assert optional_positive_int("n", None) is None
    assert optional_positive_int("n", 3) == 3


@pytest.mark.parametrize("value", [0, -1, True, False, 1.0, "1", None])
def test_positive_int_refuses_with_the_name(value: Any) -> None:
    with pytest.raises(InvalidOptionsError, match=r"^concurrency must be an integer >= 1$"):
        positive_int("concurrency", value)


@pytest.mark.parametrize("value", [-1, True, 0.5, "0"])
def test_non_negative_int_refuses(value: Any) -> None:
    with pytest.raises(InvalidOptionsError, match=r"^n must be an integer >= 0$"):
        non_negative_int("n", value)


@pytest.mark.parametrize("value", [0, True, 2.0])
def test_optional_positive_int_says_none_is_allowed(value: Any) -> None:
    with pytest.raises(InvalidOptionsError, match=r"^processes must be None or an integer"):
        optional_positive_int("processes", value)


def test_numbers_keep_their_type() -> None:
    assert positive_number("t", 2) == 2 and isinstance(positive_number("t", 2), int)
    assert positive_number("t", 0.5) == 0.5
    assert non_negative_number("t", 0) == 0


@pytest.mark.parametrize(("check", "value", "message"), [
    (positive_number, 0, "t must be > 0"),
    (positive_number, -0.5, "t must be > 0"),
    (non_negative_number, -1, "t must be >= 0"),
    (positive_number, True, "t must be a number"),
    (non_negative_number, "1", "t must be a number"),
])
def test_numbers_refused(check: Any, value: Any, message: str) -> None:
    with pytest.raises(InvalidOptionsError, match=f"^{message}$"):
        check("t", value)
