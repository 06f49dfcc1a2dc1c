"""Two ``manage.py queue_dashboard_alerts`` processes on one database file and one Redis:
each transition is delivered once. The leader is then killed (no clean release): the other
takes over when the lease runs out and delivers the resolve, once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuecore import Queue
from tests.dashboard.alerts.receiver import Receiver
from tests.dashboard.livesite import ROOT, LiveSite
from tests.dashboard.livesite import stop_process as stop
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)

_MAKE_RULE = """
import django
django.setup()
from dashboard.alerts.models import AlertRule, Webhook
from django.contrib.auth.models import User
owner = User.objects.create_user("owner", is_staff=True, is_superuser=True)
hook = Webhook.objects.create(name="ops", url={url!r}, secret="k", format="slack")
rule = AlertRule.objects.create(name="backlog", connection="default", queue_pattern="jobs",
    kind="depth", threshold=2, for_seconds=0, resolve_for_seconds=0, owner=owner)
rule.webhooks.add(hook)
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


def _db(site: LiveSite, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(site.dir / "live.sqlite3", timeout=10) as db:
        return db.execute(sql).fetchall()


def _evaluations(site: LiveSite) -> int:
    rows = _db(site, "SELECT evaluations FROM queue_dashboard_alertstate")
    return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]


def _leader(site: LiveSite) -> str:
    rows = _db(site, "SELECT holder FROM queue_dashboard_evaluatorlease")
    return str(rows[0][0]) if rows else ""


def test_two_evaluator_processes_deliver_each_alert_once(
    redis_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    site = LiveSite(tmp_path, redis_url, settings={
        "ALERTS_INTERVAL_SECONDS": 0.1, "ALERTS_LEASE_SECONDS": 1.5,
        "ALERTS_BACKOFF_SECONDS": 0})
    site._run([sys.executable, "-c", _MAKE_RULE.format(url=receiver.url)])
    logs = [(tmp_path / f"evaluator-{n}.log").open("wb") for n in range(2)]
    procs = [
        subprocess.Popen([sys.executable, "manage.py", "queue_dashboard_alerts"], cwd=ROOT,
                         env=site.env, stdout=log, stderr=subprocess.STDOUT)
        for log in logs
    ]
    queue = Queue("jobs", connection=redis_url)
    try:
        wait_for(lambda: _evaluations(site) >= 3, what="evaluations")
        for n in range(5):
            queue.add("work", {"n": n})
        wait_for(lambda: receiver.received, what="the fired webhook")
        seen = _evaluations(site)
        wait_for(lambda: _evaluations(site) >= seen + 10, what="ten more evaluations")
        assert [b["text"].split("]")[0] for b in receiver.bodies()] == ["[FIRING"]
        assert receiver.received[0].signed_by("k")

        pid = int(_leader(site).split(":")[1])
        [leader] = [p for p in procs if p.pid == pid]
        leader.send_signal(signal.SIGKILL)
        leader.wait(10)
        [other] = [p for p in procs if p is not leader]
        wait_for(lambda: _leader(site).split(":")[1] == str(other.pid), what="a new leader")
        queue.drain()
        wait_for(lambda: len(receiver.received) >= 2, what="the resolved webhook")
        seen = _evaluations(site)
        wait_for(lambda: _evaluations(site) >= seen + 10, what="ten more evaluations")
        texts = [b["text"] for b in receiver.bodies()]
        assert [t.split("]")[0] for t in texts] == ["[FIRING", "[RESOLVED"]
        assert other.poll() is None, (tmp_path / "evaluator-0.log").read_text()
        other.send_signal(signal.SIGTERM)  # a clean stop: the loops end, the lease is freed
        assert other.wait(15) == 0
        assert _leader(site).split(":")[1] == str(other.pid)
        assert _db(site, "SELECT expires_at FROM queue_dashboard_evaluatorlease")[0][0] < "2000"
    finally:
        queue.close()
        for proc in procs:
            stop(proc)  # type: ignore[arg-type]
        for log in logs:
            log.close()
        site.close()
    sent = _db(site, "SELECT count(*) FROM queue_dashboard_alertdelivery WHERE status='sent'")
    assert sent == [(2,)]
