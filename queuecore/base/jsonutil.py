"""JSON in and out of Redis. Job data is JSON only, never pickle, and size-limited."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from .errors import DataError

try:
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency; json alone gives the same
    _fast_loads = json.loads  # type: ignore[assignment]

DEFAULT_MAX_DATA_SIZE = 512 * 1024


def _no_nan(value: Any) -> Any:
    raise DataError(f"job data must be JSON-serialisable, got {type(value).__name__}")


# One encoder for every call: json.dumps with options builds a new one each time.
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                            default=_no_nan)


# JSONEncoder.encode builds a fresh C encoder on every call (half the cost of encoding a
# small dict): this is the same C encoder with the same settings, built once, so the text
# is the same byte for byte. Without the circular-reference memo (state shared by threads):
# a cycle ends in RecursionError, which is a DataError below as deep nesting is.
_encode: Callable[[Any], str] = _encoder.encode
if c_make_encoder is not None:
    _c_iterencode: Callable[[Any, int], Sequence[str]] = c_make_encoder(
        None, _no_nan, encode_basestring, None, ":", ",", False, False, False)

    def _encode(value: Any) -> str:
        return "".join(_c_iterencode(value, 0))


def dumps(value: Any) -> str:
    """Compact JSON as BullMQ writes it; NaN/Infinity and unknown types raise DataError."""
    if value is None:  # what most processors return
        return "null"
    try:
        return _encode(value)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"value is not JSON-serialisable: {exc}") from exc
    except RecursionError as exc:
        raise DataError("value is nested too deeply to serialise") from exc


def dumps_data(value: Any, max_size: int | None = DEFAULT_MAX_DATA_SIZE, what: str = "data") -> str:
    """JSON for job data, refused before any write when over ``max_size`` bytes (UTF-8)."""
    text = dumps(value)
    if max_size is not None and len(text) * 4 > max_size:  # else it fits whatever the chars
        size = len(text.encode("utf-8"))
        if size > max_size:
            raise DataError(f"job {what} is {size} bytes of JSON, over the limit of {max_size}")
    return text


# orjson turns integers beyond 64 bits into floats; json keeps them exact. Text with a run
# of 19 digits or more goes to json. The run is found in C: UTF-8 bytes with every digit
# mapped to "0" and every other byte to "x" (about 1 ns a byte; a regex takes 60).
_DIGITS_AS_ZERO = bytes(48 if 48 <= i <= 57 else 120 for i in range(256))
_LONG_RUN = b"0" * 19


def loads(text: str | None, default: Any = None) -> Any:
    """Parse JSON written by any peer; text that is not JSON comes back as the raw string."""
    if text is None or text == "":
        return default
    if len(text) < 19 or _LONG_RUN not in text.encode("utf-8", "surrogatepass").translate(
            _DIGITS_AS_ZERO):
        try:
            # orjson refuses what json reads leniently (NaN, Infinity, 1e400, lone
            # surrogates, nesting over 1,024 levels): json reads those as before.
            return _fast_loads(text)
        except ValueError:
            pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
