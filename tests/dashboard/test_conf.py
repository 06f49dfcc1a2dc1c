from __future__ import annotations

import dataclasses

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard import conf


def test_defaults() -> None:
    parsed = conf.parse({})
    assert [c.name for c in parsed.connections] == ["default"]
    assert parsed.connections[0].url == conf.DEFAULT_URL
    assert parsed.connections[0].queues is None
    assert parsed.page_size == 25
    assert not parsed.read_only


def test_connections_and_limits() -> None:
    parsed = conf.parse(
        {
            "CONNECTIONS": {
                "main": {"URL": "redis://h:1/2", "PREFIX": "{bull}", "QUEUES": ["a", "b"]},
                "short": "redis://h:2/0",
            },
            "PAGE_SIZE": 500,
            "MAX_PAGE_SIZE": 50,
            "READ_ONLY": True,
        }
    )
    main = parsed.connection("main")
    assert main is not None
    assert main.prefix == "{bull}"
    assert main.queues == ("a", "b")
    assert parsed.connection("short") is not None
    assert parsed.connection("nope") is None
    assert parsed.page_size == 50  # bounded by MAX_PAGE_SIZE
    assert parsed.read_only


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        conf.parse({}).read_only = True  # type: ignore[misc]


@pytest.mark.parametrize(
    "raw",
    [
        {"PAGE_SIZE": 0},
        {"PAGE_SIZE": "10"},
        {"CONNECTIONS": ["redis://x"]},
        {"CONNECTIONS": {"a": {"QUEUES": "emails"}}},
        {"QUEUE_RULES": {"*": {"fly": ["ops"]}}},
    ],
)
def test_invalid(raw: dict[str, object]) -> None:
    with pytest.raises(ImproperlyConfigured):
        conf.parse(raw)


def test_read_lazily_and_reset_on_setting_changed(settings: object) -> None:
    settings.QUEUE_DASHBOARD = {"READ_ONLY": True}  # type: ignore[attr-defined]
    assert conf.get_settings().read_only
    settings.QUEUE_DASHBOARD = {"READ_ONLY": False}  # type: ignore[attr-defined]
    assert not conf.get_settings().read_only
