"""queuecore.commands.schedule: when job schedulers run. Pure, no Redis."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from queuecore.base.errors import InvalidOptionsError
from queuecore.commands.schedule import cron_next, first_run, make_schedule, next_run

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def local(at_ms: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(at_ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S%z")


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {},
    {"every": 1000, "pattern": "* * * * *"},
    {"every": 0},
    {"every": -5},
    {"every": 1.5},
    {"every": True},
    {"pattern": "not a cron"},
    {"pattern": "61 * * * *"},
    {"pattern": "* * * *"},
    {"pattern": "* * * * * * * *"},
    {"pattern": ""},
    {"pattern": "* * * * *", "tz": "Mars/Olympus"},
    {"pattern": "* * * * *", "tz": ""},
    {"pattern": "* * * * *", "start_date": 2000, "end_date": 1000},
    {"pattern": "* * * * *", "start_date": -1},
    {"pattern": "* * * * *", "end_date": datetime(2030, 1, 1)},  # naive
    {"pattern": "* * * * *", "limit": 0},
    {"pattern": "* * * * *", "limit": -1},
    {"pattern": "* * * * *", "offset": 5},
    {"every": 1000, "offset": -1},
    {"every": 1000, "offset": 1000},
    {"pattern": "* * * * *", "immediately": True, "start_date": 5},
    {"pattern": "* * * * *", "immediately": "yes"},
])
def test_bad_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidOptionsError):
        make_schedule(**kwargs)


def test_good_options_are_kept() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    s = make_schedule(pattern="*/5 * * * * *", tz="Europe/Berlin", start_date=start,
                      end_date=ms(start) + 10_000, limit=3)
    assert (s.pattern, s.tz, s.start_date, s.end_date, s.limit) == (
        "*/5 * * * * *", "Europe/Berlin", ms(start), ms(start) + 10_000, 3)
    assert make_schedule(pattern="@daily").pattern == "@daily"


# -- every ------------------------------------------------------------------------------------


def test_every_without_offset_runs_now_and_then_on_that_grid() -> None:
    s = make_schedule(every=60_000)
    now = 1_800_000_012_345
    assert first_run(s, now) == now
    assert next_run(s, now, now + 5) == now + 60_000


def test_every_with_offset_runs_on_floor_now_every_plus_offset() -> None:
    s = make_schedule(every=10_000, offset=1_234)
    now = 1_800_000_005_000
    assert first_run(s, now) == 1_800_000_001_234 + 10_000
    assert first_run(s, 1_800_000_000_100) == 1_800_000_001_234


def test_every_skips_missed_runs_and_keeps_its_grid() -> None:
    s = make_schedule(every=1_000)
    prev = 1_800_000_000_250
    # The worker fetched the run 3.5 s late: the next is the first slot after now.
    assert next_run(s, prev, prev + 3_500, offset=250) == prev + 4_000


def test_every_honours_start_and_end() -> None:
    start = 1_900_000_000_000
    s = make_schedule(every=1_000, start_date=start, end_date=start + 2_500)
    assert first_run(s, 1_800_000_000_000) == start
    assert next_run(s, start + 2_000, start + 2_000) is None


# -- cron -------------------------------------------------------------------------------------


def test_cron_in_a_time_zone() -> None:
    after = ms(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    at = cron_next("0 9 * * *", "America/New_York", after)
    assert at is not None
    assert local(at, NEW_YORK) == "2026-07-01 09:00:00-0400"
    assert cron_next("0 9 * * *", None, after) == ms(datetime(2026, 7, 2, 9, tzinfo=UTC))


def test_leading_seconds_field() -> None:
    after = ms(datetime(2026, 7, 1, 12, 0, 0, 400_000, tzinfo=UTC))
    assert cron_next("*/15 * * * * *", None, after) == ms(datetime(2026, 7, 1, 12, 0, 15,
                                                                   tzinfo=UTC))
    assert cron_next("30 * * * * *", None, after) == ms(datetime(2026, 7, 1, 12, 0, 30,
                                                                 tzinfo=UTC))


def test_spring_forward_runs_a_skipped_wall_time_after_the_jump() -> None:
    # 2026-03-29 02:00 -> 03:00 in Berlin: "30 2 * * *" runs at 03:30, once.
    after = ms(datetime(2026, 3, 28, 12, tzinfo=BERLIN))
    first = cron_next("30 2 * * *", "Europe/Berlin", after)
    assert first is not None
    assert local(first, BERLIN) == "2026-03-29 03:30:00+0200"
    second = cron_next("30 2 * * *", "Europe/Berlin", first)
    assert second is not None
    assert local(second, BERLIN) == "2026-03-30 02:30:00+0200"


def test_fall_back_runs_a_daily_job_once() -> None:
    # 2026-11-01 02:00 -> 01:00 in New York: 01:30 happens twice; a daily job runs once.
    at = ms(datetime(2026, 10, 31, 12, tzinfo=NEW_YORK))
    runs = []
    for _ in range(3):
        nxt = cron_next("30 1 * * *", "America/New_York", at)
        assert nxt is not None
        runs.append(local(nxt, NEW_YORK))
        at = nxt
    assert runs == ["2026-11-01 01:30:00-0400", "2026-11-02 01:30:00-0500",
                    "2026-11-03 01:30:00-0500"]


def test_fall_back_keeps_the_rhythm_of_an_every_hour_pattern() -> None:
    at = ms(datetime(2026, 10, 25, 1, 50, tzinfo=BERLIN))
    runs = []
    for _ in range(4):
        nxt = cron_next("*/30 * * * *", "Europe/Berlin", at)
        assert nxt is not None
        runs.append(nxt)
        at = nxt
    assert [b - a for a, b in itertools.pairwise(runs)] == [1_800_000] * 3
    assert local(runs[1], BERLIN) == "2026-10-25 02:30:00+0200"
    assert local(runs[2], BERLIN) == "2026-10-25 02:00:00+0100"


def test_cron_start_end_limit_and_immediately() -> None:
    now = ms(datetime(2026, 7, 1, 12, 0, 0, tzinfo=UTC))
    start = now + 3_600_000
    s = make_schedule(pattern="0 * * * *", start_date=start, end_date=start + 3_600_000)
    assert first_run(s, now) == start  # a run exactly at start_date counts
    assert next_run(s, start, now) == start + 3_600_000
    assert next_run(s, start + 3_600_000, now) is None
    assert first_run(make_schedule(pattern="0 0 1 1 *", immediately=True), now) == now


# -- properties -------------------------------------------------------------------------------

PATTERNS = ["* * * * *", "*/15 * * * *", "30 2 * * *", "0 2 * * *", "0 */2 * * *",
            "15 1 * * *", "0 0 * * 0", "0 3 * * *", "45 1-3 * * *", "*/20 * * * * *",
            "0 30 2 * * *", "0 0 12 * * 1-5", "59 23 31 12 *", "0 0 L * *"]
ZONES = ["Europe/Berlin", "America/New_York", "UTC", "Australia/Lord_Howe"]
# Hours around the DST changes of 2026 and 2027 in Berlin and New York.
TRANSITIONS = [ms(datetime(2026, 3, 29, 1, tzinfo=UTC)), ms(datetime(2026, 10, 25, 1, tzinfo=UTC)),
               ms(datetime(2026, 3, 8, 7, tzinfo=UTC)), ms(datetime(2026, 11, 1, 6, tzinfo=UTC)),
               ms(datetime(2027, 3, 28, 1, tzinfo=UTC)), ms(datetime(2027, 11, 7, 6, tzinfo=UTC))]
around_dst = st.builds(lambda base, delta: base + delta, st.sampled_from(TRANSITIONS),
                       st.integers(-4 * 3_600_000, 4 * 3_600_000))
anytime = st.integers(ms(datetime(2000, 1, 1, tzinfo=UTC)), ms(datetime(2100, 1, 1, tzinfo=UTC)))


@settings(max_examples=300, deadline=None)
@given(pattern=st.sampled_from(PATTERNS), tz=st.sampled_from(ZONES),
       after=st.one_of(around_dst, anytime))
def test_cron_runs_are_after_now_and_increasing(pattern: str, tz: str, after: int) -> None:
    runs = []
    at = after
    for _ in range(4):
        nxt = cron_next(pattern, tz, at)
        assert nxt is not None
        assert nxt > at
        runs.append(nxt)
        at = nxt
    assert runs == sorted(set(runs))


FREQUENT = ["*/15 * * * *", "30 2 * * *", "0 2 * * *", "0 */2 * * *", "15 1 * * *",
            "45 1-3 * * *", "*/20 * * * * *", "0 30 2 * * *"]


@settings(max_examples=60, deadline=None)
@given(pattern=st.sampled_from(FREQUENT), tz=st.sampled_from(["Europe/Berlin", "America/New_York"]),
       after=around_dst)
def test_cron_matches_the_wall_clock_and_misses_no_run(pattern: str, tz: str,
                                                       after: int) -> None:
    """No wall time the pattern names (outside the hour a clock change repeats or skips)
    falls strictly between ``after`` and the run cron_next picked."""
    nxt = cron_next(pattern, tz, after)
    assert nxt is not None
    zone = ZoneInfo(tz)
    six = len(pattern.split()) == 6
    wall = datetime.fromtimestamp(after / 1000, zone).replace(tzinfo=None)
    it = croniter(pattern, wall - timedelta(hours=2), second_at_beginning=six)
    limit = datetime.fromtimestamp(nxt / 1000, zone).replace(tzinfo=None) + timedelta(hours=2)
    while True:
        cand = it.get_next(datetime)
        if cand > limit:
            break
        first, second = cand.replace(tzinfo=zone, fold=0), cand.replace(tzinfo=zone, fold=1)
        if first.utcoffset() != second.utcoffset():
            continue  # in a repeated or skipped hour: the DST rules decide
        instant = ms(first)
        assert not after < instant < nxt, \
            f"{pattern} in {tz}: missed {first.isoformat()} before {local(nxt, zone)}"


@settings(max_examples=200, deadline=None)
@given(every=st.integers(1, 10 * 86_400_000), offset=st.one_of(st.none(), st.integers(0, 10**9)),
       now=anytime, late=st.integers(0, 10**8), start=st.one_of(st.none(), anytime),
       span=st.integers(1, 10**10))
def test_every_runs_stay_on_the_grid_inside_start_and_end(
        every: int, offset: int | None, now: int, late: int, start: int | None,
        span: int) -> None:
    if offset is not None:
        offset %= every
    end = (start if start is not None else now) + span
    s = make_schedule(every=every, offset=offset, start_date=start, end_date=end)
    first = first_run(s, now)
    if first is None:
        return
    assert first >= now
    assert start is None or first >= start
    assert first <= end
    grid = offset if offset is not None else first % every
    prev = first
    for _ in range(3):
        nxt = next_run(s, prev, prev + late, offset=grid)
        if nxt is None:
            break
        assert nxt > prev
        assert nxt >= prev + late
        assert nxt % every == grid
        assert nxt <= end
        prev = nxt


@settings(max_examples=100, deadline=None)
@given(pattern=st.sampled_from(PATTERNS), tz=st.sampled_from(ZONES), now=around_dst,
       start_in=st.integers(0, 5 * 86_400_000), length=st.integers(1, 30 * 86_400_000))
def test_cron_runs_stay_inside_start_and_end(pattern: str, tz: str, now: int, start_in: int,
                                             length: int) -> None:
    start = now + start_in
    s = make_schedule(pattern=pattern, tz=tz, start_date=start, end_date=start + length)
    at = first_run(s, now)
    for _ in range(3):
        if at is None:
            return
        assert start <= at <= start + length
        assert at >= now
        at = next_run(s, at, now)


def test_a_far_search_ends() -> None:
    # Feb 30th never happens: no run, no endless loop.
    assert cron_next("0 0 30 2 *", "UTC", ms(datetime(2026, 1, 1, tzinfo=UTC))) is None
