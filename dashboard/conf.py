"""The one settings dict, ``QUEUE_DASHBOARD``, read lazily into a frozen dataclass.

Nothing here reads settings at import time: ``get_settings()`` parses on first use and the
cache is dropped when a test changes the setting (``setting_changed``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

SETTING_NAME = "QUEUE_DASHBOARD"
DEFAULT_URL = "redis://127.0.0.1:6379/0"
ACTIONS = (
    "retry",
    "remove",
    "promote",
    "clean",
    "pause",
    "drain",
    "obliterate",
    "schedulers",
    "export",
    "edit",
    "alerts",
)


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """One named Redis connection and the queues it shows."""

    name: str
    url: str = DEFAULT_URL
    prefix: str = "bull"
    queues: tuple[str, ...] | None = None  # None: discovered by a bounded SCAN
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass(frozen=True, slots=True)
class QueueRule:
    """Groups allowed per action on queues whose ``connection:queue`` matches ``pattern``."""

    pattern: str
    groups: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    connections: tuple[ConnectionSettings, ...]
    read_only: bool = False
    page_size: int = 25
    max_page_size: int = 100
    log_page_size: int = 50
    scan_limit: int = 1000
    discovery_cache_seconds: int = 60
    json_preview_chars: int = 2000
    json_full_chars: int = 1_000_000
    text_preview_chars: int = 10_000
    throughput_sample: int = 100
    clean_limit: int = 1000
    queue_rules: tuple[QueueRule, ...] = ()
    health_public: bool = True
    api_token: str = ""
    live: bool = True
    live_url: str = "/ws/queue-dashboard/"
    live_updates_per_second: int = 4
    live_recheck_seconds: int = 30
    live_overview_queues: int = 50
    live_sockets_per_user: int = 20
    live_messages_per_second: int = 10
    live_message_burst: int = 40
    live_max_message_bytes: int = 4096
    live_stalled_seconds: int = 60
    extra: Mapping[str, Any] = field(default_factory=dict)

    def connection(self, name: str) -> ConnectionSettings | None:
        for conn in self.connections:
            if conn.name == name:
                return conn
        return None


def _positive_int(raw: Mapping[str, Any], key: str, default: int) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ImproperlyConfigured(f"{SETTING_NAME}[{key!r}] must be a positive integer")
    return value


def _non_negative_int(raw: Mapping[str, Any], key: str, default: int) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ImproperlyConfigured(f"{SETTING_NAME}[{key!r}] must be an integer >= 0")
    return value


def _live_url(raw: Mapping[str, Any]) -> str:
    value = raw.get("LIVE_URL", "/ws/queue-dashboard/")
    if not isinstance(value, str) or not value.startswith("/") or not value.endswith("/"):
        raise ImproperlyConfigured(f"{SETTING_NAME}['LIVE_URL'] must start and end with '/'")
    return value


def _connection(name: str, raw: Mapping[str, Any] | str) -> ConnectionSettings:
    if isinstance(raw, str):
        return ConnectionSettings(name=name, url=raw)
    queues = raw.get("QUEUES")
    if queues is not None and (
        isinstance(queues, str) or not all(isinstance(q, str) for q in queues)
    ):
        raise ImproperlyConfigured(f"{SETTING_NAME} connection {name!r}: QUEUES must list names")
    return ConnectionSettings(
        name=name,
        url=str(raw.get("URL", DEFAULT_URL)),
        prefix=str(raw.get("PREFIX", "bull")),
        queues=tuple(queues) if queues is not None else None,
        label=str(raw.get("LABEL", "")),
    )


def _rules(raw: Mapping[str, Mapping[str, Any]]) -> tuple[QueueRule, ...]:
    rules = []
    for pattern, per_action in raw.items():
        groups: dict[str, tuple[str, ...]] = {}
        for action, names in per_action.items():
            if action not in (*ACTIONS, "view", "manage"):
                raise ImproperlyConfigured(
                    f"{SETTING_NAME}['QUEUE_RULES']: unknown action {action!r}"
                )
            groups[action] = tuple(names)
        rules.append(QueueRule(pattern=pattern, groups=groups))
    return tuple(rules)


def parse(raw: Mapping[str, Any]) -> DashboardSettings:
    """Validate the user's dict; pure, so it is tested without Django settings."""
    raw_conns = raw.get("CONNECTIONS") or {"default": {"URL": DEFAULT_URL}}
    if not isinstance(raw_conns, Mapping):
        raise ImproperlyConfigured(
            f"{SETTING_NAME}['CONNECTIONS'] must be a dict of name -> options"
        )
    page_size = _positive_int(raw, "PAGE_SIZE", 25)
    max_page_size = _positive_int(raw, "MAX_PAGE_SIZE", 100)
    known = {
        "CONNECTIONS",
        "READ_ONLY",
        "PAGE_SIZE",
        "MAX_PAGE_SIZE",
        "LOG_PAGE_SIZE",
        "SCAN_LIMIT",
        "DISCOVERY_CACHE_SECONDS",
        "JSON_PREVIEW_CHARS",
        "JSON_FULL_CHARS",
        "TEXT_PREVIEW_CHARS",
        "THROUGHPUT_SAMPLE",
        "CLEAN_LIMIT",
        "QUEUE_RULES",
        "HEALTH_PUBLIC",
        "API_TOKEN",
        "LIVE",
        "LIVE_URL",
        "LIVE_UPDATES_PER_SECOND",
        "LIVE_RECHECK_SECONDS",
        "LIVE_OVERVIEW_QUEUES",
        "LIVE_SOCKETS_PER_USER",
        "LIVE_MESSAGES_PER_SECOND",
        "LIVE_MESSAGE_BURST",
        "LIVE_MAX_MESSAGE_BYTES",
        "LIVE_STALLED_SECONDS",
    }
    return DashboardSettings(
        connections=tuple(_connection(str(n), c) for n, c in raw_conns.items()),
        read_only=bool(raw.get("READ_ONLY", False)),
        page_size=min(page_size, max_page_size),
        max_page_size=max_page_size,
        log_page_size=min(_positive_int(raw, "LOG_PAGE_SIZE", 50), max_page_size),
        scan_limit=_positive_int(raw, "SCAN_LIMIT", 1000),
        discovery_cache_seconds=_non_negative_int(raw, "DISCOVERY_CACHE_SECONDS", 60),
        json_preview_chars=_positive_int(raw, "JSON_PREVIEW_CHARS", 2000),
        json_full_chars=_positive_int(raw, "JSON_FULL_CHARS", 1_000_000),
        text_preview_chars=_positive_int(raw, "TEXT_PREVIEW_CHARS", 10_000),
        throughput_sample=_positive_int(raw, "THROUGHPUT_SAMPLE", 100),
        clean_limit=_positive_int(raw, "CLEAN_LIMIT", 1000),
        queue_rules=_rules(raw.get("QUEUE_RULES", {})),
        health_public=bool(raw.get("HEALTH_PUBLIC", True)),
        api_token=str(raw.get("API_TOKEN", "")),
        live=bool(raw.get("LIVE", True)),
        live_url=_live_url(raw),
        live_updates_per_second=_positive_int(raw, "LIVE_UPDATES_PER_SECOND", 4),
        live_recheck_seconds=_positive_int(raw, "LIVE_RECHECK_SECONDS", 30),
        live_overview_queues=_positive_int(raw, "LIVE_OVERVIEW_QUEUES", 50),
        live_sockets_per_user=_positive_int(raw, "LIVE_SOCKETS_PER_USER", 20),
        live_messages_per_second=_positive_int(raw, "LIVE_MESSAGES_PER_SECOND", 10),
        live_message_burst=_positive_int(raw, "LIVE_MESSAGE_BURST", 40),
        live_max_message_bytes=_positive_int(raw, "LIVE_MAX_MESSAGE_BYTES", 4096),
        live_stalled_seconds=_positive_int(raw, "LIVE_STALLED_SECONDS", 60),
        extra={k: v for k, v in raw.items() if k not in known},
    )


@cache
def get_settings() -> DashboardSettings:
    from django.conf import settings

    return parse(getattr(settings, SETTING_NAME, {}))


_reset_hooks: list[Callable[[], None]] = []


def on_reset(hook: Callable[[], None]) -> Callable[[], None]:
    """Register a cache that must be dropped with the settings (e.g. open queues)."""
    _reset_hooks.append(hook)
    return hook


def reset() -> None:
    get_settings.cache_clear()
    for hook in _reset_hooks:
        hook()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        reset()


def connect_signals() -> None:
    setting_changed.connect(_on_setting_changed, dispatch_uid="queue_dashboard_settings")
