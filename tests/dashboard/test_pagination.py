from __future__ import annotations

from dashboard.pagination import make_page, parse_int


def test_page_bounds() -> None:
    page = make_page("2", 10, 25)
    assert (page.start, page.end, page.num_pages) == (10, 19, 3)
    assert page.has_previous
    assert page.has_next
    assert make_page("99", 10, 25).number == 3
    assert make_page("x", 10, 25).number == 1
    assert make_page("-4", 10, 0).number == 1
    assert make_page(None, 10, 0).num_pages == 1


def test_parse_int() -> None:
    assert parse_int("500", 25, upper=100) == 100
    assert parse_int("0", 25) == 1
    assert parse_int(None, 25) == 25
