from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client

from dashboard.services.summary import QueueSummary
from dashboard.views.monitoring import render_metrics
from queuecore import Queue
from tests.dashboard.conftest import MOUNT
from tests.queue_helpers import fetch, finish

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]


def test_health_ok_is_public_and_names_no_queue(client: Client, queue: Any) -> None:
    queue.add("secret-name", {})
    response = client.get(f"{MOUNT}health/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "connections": {"default": {"ok": True}, "other": {"ok": True}},
    }
    assert "emails" not in response.content.decode()


def test_health_503_when_redis_is_down(client: Client, settings: Any) -> None:
    settings.QUEUE_DASHBOARD = {"CONNECTIONS": {"down": {"URL": "redis://127.0.0.1:1/0"}}}
    response = client.get(f"{MOUNT}health/")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_health_can_be_private(client: Client, settings: Any) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "HEALTH_PUBLIC": False}
    assert client.get(f"{MOUNT}health/").status_code == 403


def test_metrics_need_token_or_permission(
    client: Client, make_user: Callable[..., User], settings: Any, queue: Any
) -> None:
    queue.add("a", {})
    assert client.get(f"{MOUNT}metrics/").status_code == 403
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "API_TOKEN": "s3cret"}
    assert (
        client.get(f"{MOUNT}metrics/", headers={"Authorization": "Bearer nope"}).status_code == 403
    )
    response = client.get(f"{MOUNT}metrics/", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    body = response.content.decode()
    assert 'queue_dashboard_jobs{connection="default",queue="emails",state="waiting"} 1' in body
    assert 'queue_dashboard_jobs{connection="other",queue="reports",state="failed"} 0' in body
    assert 'queue_dashboard_paused{connection="default",queue="emails"} 0' in body
    assert 'queue_dashboard_up{connection="default"} 1' in body
    client.force_login(make_user("view"))
    assert client.get(f"{MOUNT}metrics/").status_code == 200


def test_metrics_label_escaping() -> None:
    summary = QueueSummary(connection="c", name='we"ird\\q\n', counts={"waiting": 3})
    text = render_metrics([summary])
    assert 'queue="we\\"ird\\\\q\\n",state="waiting"} 3' in text


# -- the alerting series, read from a real Redis -------------------------------------------

#: Letters the exposition format cares about (quote, braces, comma, equals, space, hash),
#: and non-ASCII; queuecore itself refuses ':', glob characters and control characters.
HOSTILE = 'ev"il},queue="x"} 1 #{y}=ü'
TOKEN = {"Authorization": "Bearer s3cret"}

_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)')


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value)


def parse_exposition(text: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float]]]:
    """A strict reader of Prometheus' text format 0.0.4: ``({family: type}, series)``; any
    line it cannot read fails the test (a broken label would show here)."""
    types: dict[str, str] = {}
    helps: set[str] = set()
    series = []
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ")
            types[family] = kind
            continue
        match = _SERIES.match(line)
        assert match, f"unreadable line: {line!r}"
        name, raw_labels, value = match.groups()
        labels: dict[str, str] = {}
        pos = 0
        while raw_labels and pos < len(raw_labels):
            label = _LABEL.match(raw_labels, pos)
            assert label, f"unreadable labels at {pos}: {line!r}"
            labels[label[1]] = _unescape(label[2])
            pos = label.end()
        assert name in types and name in helps, f"{name} has no HELP/TYPE"
        series.append((name, labels, float(value)))
    return types, series


def _values(series: list[tuple[str, dict[str, str], float]], name: str) -> dict[tuple, float]:
    return {tuple(sorted(labels.items())): value for n, labels, value in series if n == name}


def _finish_jobs(queue: Any, outcomes: list[bool]) -> None:
    """Run jobs to completed (True) or failed (False) as a worker recording metrics does."""
    for completed in outcomes:
        queue.add("j", {})
        taken = fetch(queue)  # the oldest waiting job
        assert taken is not None
        finish(queue, taken, completed=completed, value="boom", metrics_points=60)


@pytest.fixture
def token(settings: Any, dash_redis: str) -> None:
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "API_TOKEN": "s3cret"}


@pytest.mark.usefixtures("token")
def test_metrics_export_oldest_waiting_and_finished_totals(
    client: Client, queue: Any, dash_redis: str
) -> None:
    now = int(time.time() * 1000)
    queue.add("old", {}, timestamp=now - 90_000)
    queue.add("new", {})
    hostile = Queue(HOSTILE, connection=dash_redis)
    try:
        _finish_jobs(hostile, [True, False, True])
        hostile.add("waits", {})
        body = client.get(f"{MOUNT}metrics/", headers=TOKEN).content.decode()
    finally:
        hostile.close()
    types, series = parse_exposition(body)
    assert types["queue_dashboard_oldest_waiting_seconds"] == "gauge"
    assert types["queue_dashboard_jobs_finished_total"] == "counter"
    assert "BullMQ's metrics:completed / metrics:failed" in body  # HELP says where it comes from

    ages = _values(series, "queue_dashboard_oldest_waiting_seconds")
    emails = (("connection", "default"), ("queue", "emails"))
    evil = (("connection", "default"), ("queue", HOSTILE))
    assert 90 <= ages[emails] < 200
    assert 0 <= ages[evil] < 60
    assert ages[(("connection", "other"), ("queue", "reports"))] == 0  # nothing waits

    finished = _values(series, "queue_dashboard_jobs_finished_total")
    assert finished == {(*evil, ("state", "completed")): 2, (*evil, ("state", "failed")): 1}

    jobs = _values(series, "queue_dashboard_jobs")
    assert jobs[(*evil, ("state", "completed"))] == 2
    assert jobs[(*evil, ("state", "waiting"))] == 1
    # The hostile name opened no series of its own and broke no other.
    assert {n for n, _, _ in series} == set(types)
    assert all(
        labels.get("queue") in (None, "emails", "reports", HOSTILE) for _, labels, _ in series
    )


@pytest.mark.usefixtures("token")
def test_metrics_cost_does_not_grow_with_jobs(client: Client, queue: Any, dash_redis: str) -> None:
    """The scrape sends the same commands for 2 jobs as for 300: no per-job reads."""
    admin = redis.Redis.from_url(dash_redis, decode_responses=True)

    def commands_of_one_scrape() -> dict[str, int]:
        client.get(f"{MOUNT}metrics/", headers=TOKEN)  # loads scripts, opens connections
        admin.config_resetstat()
        assert client.get(f"{MOUNT}metrics/", headers=TOKEN).status_code == 200
        stats = admin.info("commandstats")
        return {
            name: int(stat["calls"])
            for name, stat in stats.items()
            if name not in ("cmdstat_info", "cmdstat_config|resetstat", "cmdstat_ping")
        }

    try:
        _finish_jobs(queue, [True, False])
        queue.add("j", {})  # the oldest waiting job is the one job a scrape reads
        small = commands_of_one_scrape()
        _finish_jobs(queue, [True] * 150 + [False] * 50)
        queue.add_bulk([{"name": "j", "data": {"n": n}} for n in range(100)])
        assert commands_of_one_scrape() == small
    finally:
        admin.close()


# -- the alerting rules of docs/production.md ----------------------------------------------

PRODUCTION = Path(__file__).resolve().parents[2] / "docs" / "production.md"


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def parse_yaml_subset(text: str) -> Any:
    """The YAML the docs use (mappings, lists of mappings, plain/quoted scalars, ``>-`` and
    ``|`` blocks), read strictly: PyYAML is not a dependency, and a wrong indentation or an
    unknown construct fails here as it would in Prometheus."""
    lines = [
        (len(line) - len(line.lstrip(" ")), line.strip())
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    pos = 0

    def block(indent: int) -> Any:
        nonlocal pos
        if lines[pos][1].startswith("- "):
            items = []
            while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
                # "- key: value" opens a mapping whose keys sit two columns further in.
                lines[pos] = (indent + 2, lines[pos][1][2:])
                items.append(block(indent + 2))
            return items
        mapping: dict[str, Any] = {}
        while pos < len(lines) and lines[pos][0] == indent and not lines[pos][1].startswith("- "):
            key, sep, rest = lines[pos][1].partition(":")
            assert sep and key and " " not in key, f"not a key: {lines[pos][1]!r}"
            assert key not in mapping, f"duplicate key {key}"
            rest = rest.strip()
            pos += 1
            if rest in (">-", ">", "|", "|-"):
                parts = []
                while pos < len(lines) and lines[pos][0] > indent:
                    parts.append(lines[pos][1])
                    pos += 1
                mapping[key] = (" " if rest.startswith(">") else "\n").join(parts)
            elif rest:
                mapping[key] = _scalar(rest)
            else:
                assert pos < len(lines) and lines[pos][0] >= indent, f"{key} has no value"
                mapping[key] = block(lines[pos][0])
        return mapping

    result = block(lines[0][0])
    assert pos == len(lines), f"unexpected indentation at {lines[pos][1]!r}"
    return result


def alert_rules() -> list[dict[str, Any]]:
    text = PRODUCTION.read_text()
    section = text[text.index("## Alerts") :]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the Alerts section holds one YAML block"
    doc = parse_yaml_subset(blocks[0])
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_yaml_subset_parser_is_strict() -> None:
    assert parse_yaml_subset("a:\n  - b: 1\n    c: >-\n      x\n      y\n") == {
        "a": [{"b": "1", "c": "x y"}]
    }
    with pytest.raises(AssertionError):
        parse_yaml_subset("a:\n  b: 1\n c: 2\n")


@pytest.mark.usefixtures("token")
def test_alert_rules_use_only_exported_metrics(client: Client, queue: Any) -> None:
    _finish_jobs(queue, [True, False])  # so that the finished counters are exported too
    queue.add("waiting", {})
    types, series = parse_exposition(client.get(f"{MOUNT}metrics/", headers=TOKEN).content.decode())
    exported = {name for name, _, _ in series}
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)) >= 5
    titles = re.findall(r"^\*\*(.+?)\.\*\*", PRODUCTION.read_text(), re.MULTILINE)
    runbooks = {title.replace("`", "") for title in titles}
    used: set[str] = set()
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["runbook"]
        assert rule["annotations"]["runbook"] in runbooks, rule["annotations"]["runbook"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        metrics = set(re.findall(r"\bqueue_dashboard_[a-z_]+", rule["expr"]))
        assert metrics, f"{rule['alert']} reads no metric of the endpoint"
        assert metrics <= exported, f"{rule['alert']} reads {metrics - exported}"
        for name in metrics:
            kind = types[name]
            uses_rate = re.search(rf"(rate|increase)\(\s*{name}", rule["expr"])
            assert bool(uses_rate) == (kind == "counter"), f"{rule['alert']}: {name} is a {kind}"
        used |= metrics
    assert {
        "queue_dashboard_jobs",
        "queue_dashboard_oldest_waiting_seconds",
        "queue_dashboard_jobs_finished_total",
        "queue_dashboard_workers",
        "queue_dashboard_up",
    } <= used
