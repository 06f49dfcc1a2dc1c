"""JSON in and out of Redis: the fast reader (orjson) gives exactly what json gives, and
falls back to json wherever the two would differ."""

from __future__ import annotations

import json
import math
import random

import orjson
import pytest

from queuecore.base import jsonutil
from queuecore.base.errors import DataError
from queuecore.base.jsonutil import dumps, dumps_data, loads


def _corpus() -> list[str]:
    rnd = random.Random(7)
    texts = ['{"i":1}', "[]", "{}", '"x"', "0", "-0", "-0.0", "1.5e-7", "true", "null",
             '{"a":1,"a":2}', '{"é":"ü","emoji":"\\ud83d\\ude00"}', '"\\u0000"',
             "1.7976931348623157e308", "5e-324", "[1, 2 ,3 ]", " {\"a\" : [ ] } ",
             str(2**63 - 1), str(-(2**63)), str(2**64 - 1), str(2**64), str(-(2**63) - 1),
             "123456789012345678", "1234567890123456789", "12345678901234567890123",
             '{"big":[1,99999999999999999999999,3]}', "0.12345678901234567890123",
             "NaN", "Infinity", "-Infinity", "1e400", '"\\ud800"', "[" * 2000 + "]" * 2000,
             "not json", "{'a': 1}", "[1,]", "01", '"tab\there"']
    for _ in range(300):
        value = {"n": rnd.randint(-(2**70), 2**70), "f": rnd.uniform(-1e6, 1e6),
                 "s": "".join(chr(rnd.randint(32, 0x2FFF)) for _ in range(rnd.randint(0, 12))),
                 "l": [rnd.random() for _ in range(rnd.randint(0, 3))], "b": rnd.random() < .5}
        texts.append(json.dumps(value, ensure_ascii=rnd.random() < 0.5))
    return texts


def _reference(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and str(a) == str(b))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))  # type: ignore[arg-type]
    return a == b


@pytest.mark.parametrize("text", _corpus())
def test_loads_reads_exactly_what_json_reads(text: str) -> None:
    assert _same(loads(text), _reference(text))


def test_the_fast_reader_is_in_use() -> None:
    assert jsonutil._fast_loads is orjson.loads


def test_integers_beyond_64_bits_stay_exact() -> None:
    assert loads('{"id":123456789012345678901234567890}') == {"id": 123456789012345678901234567890}
    assert loads("[-9223372036854775809]") == [-9223372036854775809]
    assert isinstance(loads("18446744073709551616"), int)


def test_loads_defaults_and_raw_text() -> None:
    assert loads(None, {}) == {} and loads("", 0) == 0
    assert loads("plain text") == "plain text"


def test_dumps_is_compact_and_refuses_what_json_cannot_hold() -> None:
    assert dumps(None) == "null"
    assert dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    for bad in (math.nan, math.inf, {1j}, object()):
        with pytest.raises(DataError):
            dumps(bad)
    with pytest.raises(DataError, match="over the limit"):
        dumps_data("x" * 100, max_size=50)
    assert dumps_data(None, max_size=4) == "null"
    with pytest.raises(DataError):
        dumps_data(None, max_size=3)


def _values() -> list[object]:
    rnd = random.Random(11)
    values: list[object] = ["x", "é\u2028\"\\\n", 0, -1, 2**70, 1.5, 1e16, -0.0, 5e-324, True,
                            [], {}, {1: "int key", 2.5: "float key", False: 1, None: 2},
                            ((1, 2), [3]), {"nested": [{"a": {"b": [None, "ü"]}}]}]
    for text in _corpus():
        value = _reference(text)
        if not (isinstance(value, float) and not math.isfinite(value)):
            values.append(value)
    values += [{"n": rnd.randint(-(2**70), 2**70), "f": rnd.uniform(-1e9, 1e9)}
               for _ in range(50)]
    return values


def test_dumps_writes_what_json_dumps_writes() -> None:
    # The prebuilt C encoder must give json's text byte for byte (what Redis stores).
    for value in _values():
        try:
            expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                                  allow_nan=False)
        except ValueError:
            continue  # NaN inside a parsed corpus text
        assert dumps(value) == expected


def test_dumps_refuses_cycles_and_keys_json_refuses() -> None:
    looped: list[object] = []
    looped.append(looped)
    for bad in (looped, {("a",): 1}, {"x": [math.nan]}, {"when": b"bytes"}):
        with pytest.raises(DataError):
            dumps(bad)
    assert dumps({"after": "an error"}) == '{"after":"an error"}'  # nothing left over
