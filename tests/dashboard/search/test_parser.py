"""The search language: every term, and a clear error for each mistake."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.search.matcher import compile_query
from dashboard.search.parser import (
    MAX_QUERY_CHARS,
    CompareTerm,
    DataTerm,
    QueryError,
    TextTerm,
    parse_query,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def terms(text: str) -> tuple[object, ...]:
    return parse_query(text, NOW).terms


def test_free_text_words_and_phrases() -> None:
    assert terms("Card  declined") == (TextTerm("card"), TextTerm("declined"))
    assert terms('"card declined" x') == (TextTerm("card declined"), TextTerm("x"))
    assert terms('"name:literal"') == (TextTerm("name:literal"),)
    assert terms(r'"say \"hi\""') == (TextTerm('say "hi"'),)
    assert terms("https://example.com/x") == (TextTerm("https://example.com/x"),)
    assert parse_query("   ").empty


def test_field_terms() -> None:
    assert terms("name:Invoice id:42 reason:Timeout") == (
        TextTerm("invoice", "name"), TextTerm("42", "id"), TextTerm("timeout", "reason"))
    assert terms('name:"monthly invoice"') == (TextTerm("monthly invoice", "name"),)


def test_data_paths() -> None:
    assert terms("data.customer.id:42") == (DataTerm(("customer", "id"), "42", False),)
    assert terms('data.items[0].sku:"AB 12"') == (DataTerm(("items", 0, "sku"), "AB 12", True),)
    assert terms("data[1]:x") == (DataTerm((1,), "x", False),)
    assert terms('data.note:""') == (DataTerm(("note",), "", True),)


def test_comparisons() -> None:
    assert terms("attempts>2 attempts<=3 attempts:1 attempts=0") == (
        CompareTerm("attempts", ">", 2), CompareTerm("attempts", "<=", 3),
        CompareTerm("attempts", "=", 1), CompareTerm("attempts", "=", 0))
    assert terms("created>-1h") == (CompareTerm("timestamp", ">", NOW_MS - 3_600_000),)
    assert terms("processed>=30m") == (CompareTerm("processedOn", ">=", NOW_MS - 1_800_000),)
    day = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000)
    assert terms("finished<2026-12-01") == (CompareTerm("finishedOn", "<", day),)
    assert terms("created>2026-12-01T00:00:00+00:00") == (CompareTerm("timestamp", ">", day),)
    for unit, seconds in (("s", 1), ("m", 60), ("d", 86400), ("w", 604800)):
        assert terms(f"created>-2{unit}") == (
            CompareTerm("timestamp", ">", NOW_MS - 2 * seconds * 1000),)


@pytest.mark.parametrize(
    ("query", "message", "term"),
    [
        ('"open', "not closed", "open"),
        ("attempts>x", "whole number", "attempts>x"),
        ("attempts>", "needs a value", "attempts>"),
        ("created>yesterday", "is not a time", "created>yesterday"),
        ("finished<2026-13-01", "is not a time", "finished<2026-13-01"),
        ("name>3", "takes a colon", "name>3"),
        ("name:", "needs a value", "name:"),
        ("colour>3", "Unknown term", "colour>3"),
        ('colour:"red"', "Unknown term", 'colour:red'),
        ("data:x", "path", "data:x"),
        ("data.a..b:x", "not valid", "data.a..b:x"),
        ("data.a[x]:1", "not valid", "data.a[x]:1"),
        ("data.a", "path and a value", "data.a"),
        ("data.a:", "needs a value", "data.a:"),
        ("data" + ".a" * 40 + ":1", "too deep", "data" + ".a" * 40 + ":1"),
        (" ".join(["w"] * 21), "at most 20", ""),
        ("a\x00b", "control characters", ""),
    ],
)
def test_errors_name_the_term_and_the_reason(query: str, message: str, term: str) -> None:
    with pytest.raises(QueryError, match=message) as info:
        parse_query(query, NOW)
    assert info.value.term == term


def test_a_huge_query_is_refused_with_its_length() -> None:
    with pytest.raises(QueryError, match="10240 characters long; at most 1000") as info:
        parse_query("<script>" + "x" * (10240 - 8))
    assert MAX_QUERY_CHARS == 1000 and info.value.term == ""


def match(query: str, job_id: str = "7", **fields: str) -> bool:
    return compile_query(parse_query(query, NOW))(job_id, fields)


def test_the_matcher_reads_raw_hash_fields() -> None:
    assert match("DECLINED", failedReason="Card declined")
    assert match("invoice", name="Invoice-42") and match("7") and not match("8")
    assert match("id:7") and not match("id:7", job_id="abc")
    assert match("reason:card", failedReason="card") and not match("reason:card", name="card")
    assert match("name:inv reason:dec", name="inv", failedReason="declined")
    assert not match("name:inv reason:dec", name="inv")
    assert match("attempts>=2", atm="2") and match("attempts=3", attemptsMade="3", atm="1")
    assert not match("attempts>2", atm="2") and match("attempts<1")
    assert match("created>-1h", timestamp=str(NOW_MS - 1000))
    assert not match("created>-1h", timestamp=str(NOW_MS - 7_200_000))
    assert not match("finished<2026-12-01")  # not finished: no match


def test_data_values_match_by_their_type() -> None:
    data = ('{"customer": {"id": 42, "name": "Zoë Ünal", "vip": true, "ref": null},'
            ' "items": [{"sku": "AB 12"}], "n": "42"}')
    assert match("data.customer.id:42", data=data)
    assert match("data.customer.id:42.0", data=data)
    assert not match("data.customer.id:4", data=data)  # numbers match exactly
    assert match("data.customer.name:zoë", data=data)  # strings: case-insensitive substring
    assert match("data.customer.name:ÜNAL", data=data)
    assert match("data.customer.vip:true", data=data) and not match("data.customer.vip:1",
                                                                    data=data)
    assert match("data.customer.ref:null", data=data)
    assert match('data.items[0].sku:"ab 12"', data=data)
    assert not match("data.items[1].sku:ab", data=data) and not match("data.items:ab", data=data)
    assert match("data.n:4", data=data)  # a string holding digits is a string
    assert not match("data.missing:x", data=data) and not match("data.a:x", data="not json")
    assert not match("data.a:x", data="[" * 100_000 + "]" * 100_000)  # too deep: no match


def test_a_scan_reads_only_the_fields_its_terms_need() -> None:
    from dashboard.search.matcher import fields_needed

    assert fields_needed(parse_query("")) == ("name",)
    assert fields_needed(parse_query("data.a:1")) == ("data", "name")
    assert fields_needed(parse_query("x reason:y attempts>1 finished<-1d")) == (
        "atm", "attemptsMade", "failedReason", "finishedOn", "name")


def test_the_raw_text_prefilter_never_hides_a_match() -> None:
    data = '{"a": 42, "b": 4.5, "c": "MiXeD Case", "d": -7, "e": 1e3}'
    assert match("data.a:42", data=data) and match("data.a:42.0", data=data)
    assert match("data.b:4.50", data=data) and match("data.d:-7", data=data)
    assert match("data.e:1000", data=data) and match("data.c:mixed", data=data)
    assert not match("data.a:43", data=data)
