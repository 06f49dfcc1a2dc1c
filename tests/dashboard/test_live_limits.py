"""Per-user caps (``dashboard.live.limits``): sockets counted per user, a token bucket of
messages with its burst and rate, and buckets of quiet users dropped (a full bucket is none).
Clock values are passed in: no sleeping."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard import conf
from dashboard.live.limits import PRUNE_AT, UserLimits


@pytest.fixture
def caps(settings: Any) -> UserLimits:
    settings.QUEUE_DASHBOARD = {"LIVE_SOCKETS_PER_USER": 2, "LIVE_MESSAGES_PER_SECOND": 4,
                                "LIVE_MESSAGE_BURST": 3}
    return UserLimits()


def test_sockets_per_user_are_capped_and_freed(caps: UserLimits) -> None:
    assert caps.open(7, 1)
    assert caps.open(7, 2)
    assert not caps.open(7, 3)  # the cap
    assert caps.open(7, 2)  # counting the same socket again is no new place
    assert caps.open(8, 3)  # another user has their own
    caps.close(7, 1)
    assert caps.open_count(7) == 1
    assert caps.open(7, 3)
    caps.close(7, 2)
    caps.close(7, 3)
    caps.close(7, 3)  # twice is harmless
    assert 7 not in caps.sockets


def test_messages_are_a_token_bucket(caps: UserLimits) -> None:
    assert [caps.take(7, now=100.0) for _ in range(4)] == [True, True, True, False]  # burst 3
    assert not caps.take(7, now=100.1)  # 0.4 of a token back
    assert caps.take(7, now=100.25)  # one token back after 1/4 s at 4 a second
    assert not caps.take(7, now=100.25)
    assert caps.take(8, now=100.25)  # per user
    assert [caps.take(7, now=200.0) for _ in range(4)] == [True, True, True, False]  # full again


def test_full_buckets_of_quiet_users_are_dropped(caps: UserLimits) -> None:
    for user in range(PRUNE_AT):
        caps.take(user, now=0.0)
    assert len(caps.buckets) == PRUNE_AT
    caps.take("late", now=10.0)  # everyone else refilled meanwhile: dropped
    assert list(caps.buckets) == ["late"]


@pytest.mark.parametrize("key", ["LIVE_SOCKETS_PER_USER", "LIVE_MESSAGES_PER_SECOND",
                                 "LIVE_MESSAGE_BURST", "LIVE_MAX_MESSAGE_BYTES",
                                 "LIVE_STALLED_SECONDS"])
def test_limits_are_positive_integers(key: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        conf.parse({key: 0})
    assert getattr(conf.parse({key: 5}), key.lower()) == 5


def test_defaults() -> None:
    parsed = conf.parse({})
    assert (parsed.live_sockets_per_user, parsed.live_messages_per_second,
            parsed.live_message_burst, parsed.live_max_message_bytes,
            parsed.live_stalled_seconds) == (20, 10, 40, 4096, 60)
