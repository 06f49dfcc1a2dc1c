"""Tracked bulk operations: run in chunks in a background thread, their state in Redis.

An operation's state is the side hash ``op:<id>`` of its queue (status, total, done,
skipped, cancel, ...), so any dashboard process can show its progress and ask it to stop;
``ops`` (a sorted set by start time) lists a queue's recent operations. The id is the token
of the confirmation form: a second submit of the same form finds the operation started and
starts nothing (HSETNX). Removals go to the trash (``trash:<id>:``), kept
``QUEUE_DASHBOARD['TRASH_SECONDS']`` (default an hour) for Undo.

The thread is a daemon: a restart of its process ends it wherever it is, and nothing would
ever write its end. So it beats (``beat``, the time, written with each chunk's counts and
while a search source collects); one whose beat is older than ``STALE_SECONDS`` is shown as
interrupted, with how far it got, instead of running forever. Its record is left as it is:
Cancel and Undo mean what they meant.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection as db_connection
from django.utils.translation import gettext as _

from dashboard import audit, conf
from dashboard.bulk import groups as fg
from dashboard.bulk.sources import IdSource
from queuecore import Queue, QueueCoreError, Triage

log = logging.getLogger(__name__)

CHUNK = 500
KEEP_SECONDS = 86_400  # how long an operation's record stays
#: An operation not finished whose last beat is older than this is shown as interrupted.
STALE_SECONDS = 60.0
#: The longest sleep between two beats while an operation rests between chunks (a rest may
#: last up to ``BULK_YIELD`` (100) times a chunk's time, well past ``STALE_SECONDS``).
BEAT_SECONDS = 15.0
AUDIT_IDS = 100
#: action -> the permission it needs
ACTIONS: dict[str, str] = {"retry": "retry", "remove": "remove", "promote": "promote",
                           "priority": "edit"}
#: action -> the states whose jobs it is offered for (None: any but active), in the order
#: the selection bar and a search's bar offer them.
FOR_STATES: dict[str, tuple[str, ...] | None] = {
    "retry": ("failed", "completed"), "promote": ("delayed",),
    "priority": ("waiting", "prioritized", "delayed"), "remove": None}
_running: dict[str, threading.Thread] = {}


def actions_for(state: str, allowed: Iterable[str]) -> list[str]:
    """The bulk actions offered on jobs of ``state`` to someone ``allowed`` these
    permissions: the one table the job list's selection bar and a search's bar read."""
    granted = set(allowed)
    return [action for action, states in FOR_STATES.items()
            if ACTIONS[action] in granted
            and (state in states if states is not None else state != "active")]


def yield_ratio() -> float:
    """``QUEUE_DASHBOARD['BULK_YIELD']``: after each chunk the operation rests this many times
    the chunk's own time (1.0, the default: half of Redis's and the host's time is left to the
    workers; 0: as fast as it can)."""
    raw = conf.get_settings().extra.get("BULK_YIELD", 1.0)
    ok = isinstance(raw, int | float) and not isinstance(raw, bool) and 0 <= raw <= 100
    return float(raw) if ok else 1.0


def trash_seconds() -> int:
    raw = conf.get_settings().extra.get("TRASH_SECONDS", 3600)
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else 3600


@dataclass(frozen=True, slots=True)
class OpState:
    id: str
    action: str
    label: str
    status: str  # starting, running, done, cancelled, error
    total: int
    done: int
    skipped: int
    user: str
    started: float
    finished: float
    message: str
    trash: bool
    undone: str
    beat: float = 0.0  # the last time its thread said it was alive (0: never)

    @property
    def finished_running(self) -> bool:
        return self.status in ("done", "cancelled", "error")

    @property
    def interrupted(self) -> bool:
        """Not finished, and its thread has not beaten for ``STALE_SECONDS``: its process
        stopped (a restart, a crash) while it ran."""
        last = max(self.beat, self.started)
        return not self.finished_running and time.time() - last > STALE_SECONDS

    @property
    def last_beat_at(self) -> datetime:
        return datetime.fromtimestamp(max(self.beat, self.started), tz=UTC)

    @property
    def shown_status(self) -> str:
        """The status to show: ``interrupted`` instead of a running that nobody runs."""
        return "interrupted" if self.interrupted else self.status

    @property
    def percent(self) -> int:
        handled = self.done + self.skipped
        return 100 if not self.total else min(100, handled * 100 // self.total)

    @property
    def undo_until(self) -> float:
        return self.finished + trash_seconds() if self.trash else 0.0

    @property
    def undo_until_at(self) -> datetime:
        return datetime.fromtimestamp(self.undo_until, tz=UTC)

    @property
    def undoable(self) -> bool:
        return (self.trash and self.finished_running and not self.undone
                and self.done > 0 and time.time() < self.undo_until)


def _state(op_id: str, raw: dict[str, str]) -> OpState:
    def num(name: str) -> int:
        try:
            return int(raw.get(name) or 0)
        except ValueError:
            return 0

    def when(name: str) -> float:
        try:
            return float(raw.get(name) or 0)
        except ValueError:
            return 0.0

    return OpState(id=op_id, action=raw.get("action", ""), label=raw.get("label", ""),
                   status=raw.get("status", ""), total=num("total"), done=num("done"),
                   skipped=num("skipped"), user=raw.get("user", ""), started=when("started"),
                   finished=when("finished"), message=raw.get("message", ""),
                   trash=raw.get("trash") == "1", undone=raw.get("undone", ""),
                   beat=when("beat"))


def get(t: Triage, op_id: str) -> OpState | None:
    raw = t.side(("HGETALL", f"op:{op_id}"))[0]
    return _state(op_id, raw) if raw else None


def recent(t: Triage, since_s: float) -> list[OpState]:
    ids = t.side(("ZRANGEBYSCORE", "ops", since_s, "+inf"))[0]
    if not ids:
        return []
    raws = t.side(*[("HGETALL", f"op:{i}") for i in ids])
    return [_state(str(i), r) for i, r in zip(ids, raws, strict=True) if r][::-1]


def start(t: Triage, *, op_id: str, action: str, source: IdSource, user: Any,
          priority: int = 0, group: str = "", connection: str = "") -> bool:
    """Start an operation in the background; False when ``op_id`` exists (a double submit)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown bulk action {action!r}")
    key = f"op:{op_id}"
    now = time.time()
    # ``started`` and ``beat`` in the same call as the status (each only if absent: a double
    # submit changes nothing), so the record is never seen without them (as interrupted).
    if not t.side(("HSETNX", key, "status", "starting"), ("HSETNX", key, "started", repr(now)),
                  ("HSETNX", key, "beat", repr(now)))[0]:
        return False
    t.side(("HSET", key, "action", action, "label", source.label, "total", source.count(),
            "done", 0, "skipped", 0, "user", user.get_username(),
            "trash", "1" if action == "remove" else "0"),
           ("EXPIRE", key, KEEP_SECONDS), ("ZADD", "ops", repr(now), op_id))
    # Its own connection: a settings change or the LRU of dashboard.connections closes the
    # shared queues, and an operation may run for minutes.
    own = Triage(Queue(t.queue.name, connection=t.queue.connection, prefix=t.queue.prefix),
                 namespace=t.namespace)
    thread = threading.Thread(
        target=_run, name=f"qd-bulk-{op_id}", daemon=True,
        args=(own, op_id, action, source, user, priority, group, connection))
    _running[op_id] = thread
    thread.start()
    return True


def cancel(t: Triage, op_id: str) -> None:
    t.side(("HSET", f"op:{op_id}", "cancel", "1"))


def wait(op_id: str, timeout: float | None = None) -> None:
    """Wait for an operation of this process to end (tests, benchmarks)."""
    thread = _running.get(op_id)
    if thread is not None:
        thread.join(timeout)


def wait_all(timeout: float) -> None:
    """Wait for every operation of this process to end (tests)."""
    for op_id in list(_running):
        wait(op_id, timeout)


def apply(t: Triage, action: str, ids: list[str], *, op_id: str = "",
          priority: int = 0) -> list[int]:
    """One chunk: a code per id (>= 0 done, < 0 refused, as ``Triage``'s methods)."""
    if action == "retry":
        codes = t.retry_each(ids, "failed")
        again = [i for i, c in zip(ids, codes, strict=True) if c == -3]
        if again:  # not failed: maybe completed
            second = dict(zip(again, t.retry_each(again, "completed"), strict=True))
            codes = [second.get(i, c) if c == -3 else c for i, c in zip(ids, codes, strict=True)]
        return codes
    if action == "remove":
        return t.trash_each(ids, op_id, trash_seconds())
    if action == "promote":
        return t.promote_each(ids)
    if action == "priority":
        return t.change_priority_each(ids, priority)
    raise ValueError(f"unknown bulk action {action!r}")


def _chunks(source: IdSource) -> Iterator[list[str]]:
    yield from source.chunks(CHUNK)


def _run(t: Triage, op_id: str, action: str, source: IdSource, user: Any, priority: int,
         group: str, connection: str) -> None:
    key = f"op:{op_id}"
    done_ids: list[str] = []
    done = skipped = 0
    status, message = "done", ""
    try:
        chunks = list(_chunks(source))
        total = sum(len(c) for c in chunks)
        t.side(("HSET", key, "status", "running", "total", total, "beat", repr(time.time())))
        rest, rested = yield_ratio(), 0.0
        for n, chunk in enumerate(chunks):
            # Leave the workers their share; beat before each chunk too.
            if _rest(t, key, rested * rest if n else 0.0):
                status = "cancelled"
                break
            began = time.monotonic()
            codes = apply(t, action, chunk, op_id=op_id, priority=priority)
            ok = [i for i, c in zip(chunk, codes, strict=True) if c >= 0]
            done += len(ok)
            skipped += len(chunk) - len(ok)
            done_ids += ok[: AUDIT_IDS - len(done_ids)]
            t.side(("HINCRBY", key, "done", len(ok)),
                   ("HINCRBY", key, "skipped", len(chunk) - len(ok)),
                   ("HSET", key, "beat", repr(time.time())))
            if group and action in ("retry", "remove"):
                fg.forget(t, group, ok)
            rested = time.monotonic() - began
    except Exception as exc:  # the operation's end is recorded whatever stopped it
        status, message = "error", f"{type(exc).__name__}: {exc}"
        log.warning("bulk operation %s failed: %s", op_id, message,
                    exc_info=not isinstance(exc, QueueCoreError | ValueError))
    finally:
        try:
            t.side(("HSET", key, "status", status, "finished", repr(time.time()),
                    "message", message))
        except QueueCoreError:
            log.exception("bulk operation %s: its end could not be recorded", op_id)
        try:
            _audit(t, op_id, action, user, status, done, skipped, done_ids, message,
                   connection)
        except Exception:  # the outcome is stored already: a failed audit row is logged
            log.exception("bulk operation %s: the audit row could not be written", op_id)
        finally:
            _running.pop(op_id, None)
            t.queue.close()
            db_connection.close()  # this thread's own connections


def _rest(t: Triage, key: str, seconds: float) -> bool:
    """Sleep ``seconds`` in slices of at most ``BEAT_SECONDS``, beating after each (a long
    rest is not a death); True as soon as the operation was asked to stop."""
    end = time.monotonic() + seconds
    while True:
        if t.side(("HGET", key, "cancel"), ("HSET", key, "beat", repr(time.time())))[0]:
            return True
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, BEAT_SECONDS))


def _audit(t: Triage, op_id: str, action: str, user: Any, status: str, done: int,
           skipped: int, ids: list[str], message: str, connection: str) -> None:
    detail = _("%(done)d done, %(skipped)d skipped (operation %(id)s, %(status)s)") % {
        "done": done, "skipped": skipped, "id": op_id, "status": status}
    audit.record(user, f"bulk {action}", outcome="error" if status == "error" else "ok",
                 connection=connection, queue=t.queue.name, job_ids=ids, count=done,
                 detail=f"{detail} {message}".strip())


def undo(t: Triage, op_id: str, user: Any, connection: str = "") -> tuple[int, int]:
    """Put an operation's removed jobs back (while its trash lasts)."""
    ids = t.trash_ids(op_id, AUDIT_IDS)[0]
    restored, skipped = t.restore_trash(op_id)
    t.side(("HSET", f"op:{op_id}", "undone", f"{restored}"))
    audit.record(user, "undo remove", outcome="ok", connection=connection,
                 queue=t.queue.name, count=restored,
                 detail=_("%(restored)d restored, %(skipped)d not (operation %(id)s)") % {
                     "restored": restored, "skipped": skipped, "id": op_id}, job_ids=ids)
    return restored, skipped


def record_sync(t: Triage, *, op_id: str, action: str, label: str, username: str, done: int,
                total: int) -> None:
    """Record an operation done in the request itself (a one-job remove, a clean), so that
    it is listed with its Undo like the background ones."""
    now = repr(time.time())
    key = f"op:{op_id}"
    t.side(("HSET", key, "action", action, "label", label, "status", "done", "total", total,
            "done", done, "skipped", total - done, "user", username,
            "started", now, "finished", now, "trash", "1"),
           ("EXPIRE", key, KEEP_SECONDS), ("ZADD", "ops", now, op_id))
