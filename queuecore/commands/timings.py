"""queuecore's timing histograms: wait and processing times per minute and per hour.

A worker counts each finished job's wait (``processedOn - timestamp``) and processing
(``finishedOn - processedOn``) time into fixed logarithmic buckets in memory and adds its
counts once a minute, in one script call, to hashes under queuecore-only keys::

    <prefix>:<queue>:qc:timings:m:<minute start ms>   kept 2 hours (the 1 h charts)
    <prefix>:<queue>:qc:timings:h:<hour start ms>     kept 8 days (the 24 h and 7 d charts)
    <prefix>:<queue>:qc:timings                       sorted set of those keys (score: start),
                                                      expiring with the newest hour hash

A hash's fields are ``<kind>:<measure>:<bucket>`` (kind ``c`` completed or ``f`` failed,
measure ``w`` wait or ``p`` processing) holding counts. BullMQ never reads these keys, and its
obliterate does not delete them (it deletes the jobs and a fixed list of the queue's own
keys, no pattern); they expire on their own. queuecore's obliterate deletes them through the
index.

Bucket ``b`` holds times in ``(2**((b-1)/4), 2**(b/4)]`` ms (bucket 0: up to 1 ms), so a
percentile read back is within about 9% of the exact one (the bucket's geometric middle).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..base.keys import QueueKeys
from .op import Op, raw, script

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
#: Key kinds: minute and hour hashes, and how long each is kept.
RESOLUTIONS: dict[str, int] = {"m": MINUTE_MS, "h": HOUR_MS}
TTL_SECONDS: dict[str, int] = {"m": 2 * 3600, "h": 8 * 24 * 3600}
#: Buckets per doubling, and the last bucket (2**(140/4) ms is over a year).
STEPS = 4
MAX_BUCKET = 140
KINDS = {"completed": "c", "failed": "f"}
MEASURES = {"wait": "w", "processing": "p"}


def bucket_of(ms: float) -> int:
    """The bucket of a duration in ms (negative durations, from clock skew, count as 0)."""
    if ms <= 1:
        return 0
    return min(MAX_BUCKET, math.ceil(STEPS * math.log2(ms) - 1e-9))


def bucket_value(bucket: int) -> float:
    """The duration a bucket stands for: the geometric middle of its range (ms)."""
    if bucket <= 0:
        return 1.0
    return float(2 ** ((bucket - 0.5) / STEPS))


def percentile(hist: Mapping[int, int], p: float) -> float | None:
    """The p-th percentile (nearest rank) of a histogram ``{bucket: count}``, or None."""
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    total = sum(n for n in hist.values() if n > 0)
    if not total:
        return None
    rank = max(1, math.ceil(total * p / 100))
    seen = 0
    for bucket in sorted(hist):
        seen += max(0, hist[bucket])
        if seen >= rank:
            return bucket_value(bucket)
    return bucket_value(max(hist))  # pragma: no cover - rank <= total


def slot_start(ms: int, resolution: str) -> int:
    width = RESOLUTIONS[resolution]
    return ms // width * width


@dataclass(slots=True)
class Histograms:
    """Counts of one minute or hour: ``hists[(kind, measure)] = {bucket: count}``."""

    hists: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)

    def add(self, kind: str, measure: str, bucket: int, n: int = 1) -> None:
        hist = self.hists.setdefault((kind, measure), {})
        hist[bucket] = hist.get(bucket, 0) + n

    def get(self, kind: str, measure: str) -> dict[int, int]:
        return self.hists.get((kind, measure), {})

    def count(self, kind: str) -> int:
        return sum(self.get(kind, "processing").values())

    def percentile(self, kind: str, measure: str, p: float) -> float | None:
        """The p-th percentile (ms) of ``kind`` (completed, failed) and ``measure`` (wait,
        processing), about 9% close; None without samples."""
        return percentile(self.get(kind, measure), p)

    def merge(self, other: Histograms) -> None:
        """Add another minute's or hour's counts to these."""
        for (kind, measure), hist in other.hists.items():
            for bucket, n in hist.items():
                self.add(kind, measure, bucket, n)

    def fields(self) -> list[tuple[str, int]]:
        return [(f"{KINDS[k]}:{MEASURES[m]}:{b}", n)
                for (k, m), hist in sorted(self.hists.items()) for b, n in sorted(hist.items())]

    @classmethod
    def from_hash(cls, raw_hash: Mapping[Any, Any]) -> Histograms:
        """Decode a stored hash; fields it does not know are skipped (never trusted)."""
        kinds = {v: k for k, v in KINDS.items()}
        measures = {v: k for k, v in MEASURES.items()}
        out = cls()
        for name, value in raw_hash.items():
            parts = _text(name).split(":")
            if len(parts) != 3 or parts[0] not in kinds or parts[1] not in measures:
                continue
            try:
                bucket, n = int(parts[2]), int(_text(value))
            except ValueError:
                continue
            if 0 <= bucket <= MAX_BUCKET and n > 0:
                out.add(kinds[parts[0]], measures[parts[1]], bucket, n)
        return out


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def timings_key(keys: QueueKeys, resolution: str, start: int) -> str:
    return f"{keys.base}qc:timings:{resolution}:{start}"


def index_key(keys: QueueKeys) -> str:
    return f"{keys.base}qc:timings"


def add_timings(keys: QueueKeys, minutes: Mapping[int, Histograms], now: int) -> Op[Any]:
    """One script call adding the counts of these minutes (start ms -> counts) to their
    minute and hour hashes, with their expiry and index entries."""
    hours: dict[int, Histograms] = {}
    for start, hists in minutes.items():
        hours.setdefault(slot_start(start, "h"), Histograms()).merge(hists)
    target_keys = [index_key(keys)]
    args: list[str | int] = [now - TTL_SECONDS["h"] * 1000, now - TTL_SECONDS["m"] * 1000]
    for resolution, slots in (("m", minutes), ("h", hours)):
        for start, hists in sorted(slots.items()):
            pairs = hists.fields()
            if not pairs:
                continue
            target_keys.append(timings_key(keys, resolution, start))
            args += [start, TTL_SECONDS[resolution], len(pairs)]
            for name, n in pairs:
                args += [name, n]
    return Op((script("add_timings", target_keys, args),), lambda replies: replies[0])


def read_timings(keys: QueueKeys, resolution: str, starts: Sequence[int]
                 ) -> Op[list[Histograms]]:
    """The stored counts of these minutes or hours (empty where none), in one round trip."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {sorted(RESOLUTIONS)}")
    calls = tuple(raw("HGETALL", timings_key(keys, resolution, s)) for s in starts)

    def decode(replies: list[Any]) -> list[Histograms]:
        return [Histograms.from_hash(_pairs(r)) for r in replies]

    return Op(calls, decode)


def _pairs(reply: Any) -> Mapping[Any, Any]:
    if isinstance(reply, Mapping):
        return reply
    items = list(reply or [])
    return dict(zip(items[::2], items[1::2], strict=False))


def slots(end_ms: int, resolution: str, count: int) -> list[int]:
    """The starts of the last ``count`` minutes or hours up to ``end_ms``, oldest first."""
    width = RESOLUTIONS[resolution]
    last = slot_start(end_ms, resolution)
    return [last - (count - 1 - i) * width for i in range(count)]


def merged(parts: Iterable[Histograms]) -> Histograms:
    out = Histograms()
    for part in parts:
        out.merge(part)
    return out
