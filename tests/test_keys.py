"""Key names of a queue in BullMQ 6's layout, and queue-name / prefix validation."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuecore.base.keys import (
    ALL_STATES,
    LIST_STATES,
    QUEUE_SUFFIXES,
    STATE_SUFFIX,
    ZSET_STATES,
    QueueKeys,
    validate_prefix,
    validate_queue_name,
)
from queuecore.commands import ops


def test_every_key_name() -> None:
    k = QueueKeys.of("emails")
    assert k.base == "bull:emails:"
    assert k.queue_key == "bull:emails"
    expected = {
        "wait": k.wait, "paused": k.paused, "active": k.active, "prioritized": k.prioritized,
        "pc": k.pc, "delayed": k.delayed, "completed": k.completed, "failed": k.failed,
        "waiting-children": k.waiting_children, "marker": k.marker, "events": k.events,
        "meta": k.meta, "stalled": k.stalled, "stalled-check": k.stalled_check,
        "limiter": k.limiter, "id": k.id, "repeat": k.repeat,
        "metrics:completed": k.metrics("completed"), "metrics:failed": k.metrics("failed"),
    }
    assert set(expected) == set(QUEUE_SUFFIXES)
    for suffix, key in expected.items():
        assert key == f"bull:emails:{suffix}"
        assert k.key(suffix) == key
    assert k.job("42") == "bull:emails:42"
    assert k.lock("42") == "bull:emails:42:lock"
    assert k.logs("42") == "bull:emails:42:logs"
    assert k.dedup("d") == "bull:emails:de:d"


def test_state_keys() -> None:
    k = QueueKeys.of("q", "pre")
    assert k.state_key("waiting") == "pre:q:wait"
    assert k.state_key("waiting-children") == "pre:q:waiting-children"
    for state in ALL_STATES:
        assert k.state_key(state) == "pre:q:" + STATE_SUFFIX[state]
    assert set(ALL_STATES) == LIST_STATES | ZSET_STATES
    assert not LIST_STATES & ZSET_STATES
    with pytest.raises(KeyError):
        k.state_key("wait")


def test_hash_tag_prefixes() -> None:
    assert QueueKeys.of("q", "{bull}").wait == "{bull}:q:wait"
    assert QueueKeys.of("{q}").job("1") == "bull:{q}:1"


def test_worker_client_names() -> None:
    k = QueueKeys.of("tâche")
    encoded = base64.b64encode("tâche".encode()).decode()
    assert ops.worker_client_names(k) == (f"bull:{encoded}", "bull:tâche")


@pytest.mark.parametrize("name", ["a:b", "*", "a*", "a?", "a[1]", "a]", "a\\b", "a\nb",
                                  "a\rb", "a\x00", "", "x" * 257])
def test_bad_queue_names(name: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        validate_queue_name(name)
    with pytest.raises(ValueError):  # noqa: PT011
        QueueKeys.of(name)


@pytest.mark.parametrize("name", ["q", "emails-2", "a.b", "a b", "Ünïcode", "{tag}", "x" * 256])
def test_good_queue_names(name: str) -> None:
    assert validate_queue_name(name) == name


@given(st.text(min_size=1, max_size=256))
def test_valid_names_never_contain_key_breaking_characters(name: str) -> None:
    try:
        validate_queue_name(name)
    except ValueError:
        return
    assert not any(ch in name for ch in ":*?[]\\\x00\r\n")
    assert QueueKeys.of(name).wait == f"bull:{name}:wait"


@pytest.mark.parametrize("prefix", ["", "a*", "a[", "x" * 129, "a\n"])
def test_bad_prefixes(prefix: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        validate_prefix(prefix)


def test_non_string_names() -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        validate_queue_name(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):  # noqa: PT011
        validate_prefix(3)  # type: ignore[arg-type]
