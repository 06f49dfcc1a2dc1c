"""What one socket watches and the fragments it is sent.

A ``LiveSession`` subscribes to the feeds of the queues its page shows, folds their changes
(keeping only the jobs it can show), and when the ticker flushes it re-reads what changed:
exact counts (one round trip per queue, shared by the sockets of the tick), the visible page
of jobs when that list or one of its jobs moved, or the watched job with its new log lines
(also between events, when its feed's log watch saw the job's log list grow). It answers
with htmx out-of-band fragments rendered by Django templates (autoescaped: job data and log
lines are untrusted). It never reads Redis on its own clock: only when a feed saw an event
(or a log list of the job it shows grow).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse, set_script_prefix

from dashboard import conf
from dashboard.formatting import shorten
from dashboard.live import feeds, services
from dashboard.live.changes import Changes
from dashboard.live.ticker import TickCache, ticker
from dashboard.live.views import ListView, LogView, Shown, Toast
from dashboard.services.common import STATES
from dashboard.templatetags.queue_dashboard import dom_id

log = logging.getLogger(__name__)

Key = feeds.Key
Send = Callable[[str], Awaitable[None]]
DEFAULT_NS = "queue_dashboard"
MAX_TOASTS = 5
_tokens = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Target:
    """The page behind a socket: the overview, a queue's list, or one job."""

    kind: str  # "overview" | "queue" | "job"
    connection: str = ""
    queue: str = ""
    job_id: str = ""


def _never() -> bool:
    return False


def safe_namespace(raw: str | None) -> str:
    """The URL namespace of the page's mount (include or admin), if it is one."""
    if raw:
        try:
            reverse(f"{raw}:overview")
            return raw
        except NoReverseMatch:
            pass
    return DEFAULT_NS


class LiveSession:
    """``await_view``: send nothing until the page said what it shows (``set_view``), so the
    first fragment is of the page's own tab and page, never of the default view.
    ``script_prefix``: the mount's prefix (daphne's root path or ``FORCE_SCRIPT_NAME``) that
    links in fragments start with, as on the pages.
    ``held``: true while the client has not read what it was sent (``transport``); then
    nothing is sent, changes keep merging into ``pending`` (bounded: per queue, a few sets of
    states and of the shown jobs), and ``resume`` sends the latest state once it has read."""

    def __init__(self, send: Send, target: Target, namespace: str = DEFAULT_NS, *,
                 await_view: bool = False, script_prefix: str = "/",
                 held: Callable[[], bool] | None = None) -> None:
        self.send = send
        self.held = held or _never
        self.target = target
        self.namespace = namespace
        self.awaiting_view = await_view and target.kind != "overview"
        self.script_prefix = script_prefix
        self.token = next(_tokens)
        self.keys: list[Key] = []
        self.view = ListView(size=conf.get_settings().page_size)
        self.logs: LogView | None = None  # unknown until the page says what it holds
        self.paused = False
        self.pending: dict[Key, Changes] = {}
        self.toasts: list[Toast] = []
        self.shown = Shown()
        self.flushes = 0
        self.holds = 0
        self._feeds: dict[Key, feeds.Feed] = {}

    # -- subscriptions --

    async def watch(self, keys: list[Key]) -> None:
        """Subscribe to these queues' feeds (and drop the others); refresh what is shown."""
        self.keys = list(keys)
        if self.paused:
            return
        await self._resubscribe()

    async def _resubscribe(self) -> None:
        registry = feeds.registry()
        wanted = set(self.keys)
        for key in list(self._feeds):
            if key not in wanted:
                del self._feeds[key]
                await registry.unsubscribe(key, self.token)
        for key in self.keys:
            if key not in self._feeds:
                self._feeds[key] = await registry.subscribe(key, self.token, self._on_changes)
            self.refresh(key)

    async def unwatch(self) -> None:
        registry = feeds.registry()
        ticker().forget(self)
        keys, self._feeds = list(self._feeds), {}
        self.pending.clear()
        for key in keys:
            await registry.unsubscribe(key, self.token)

    async def set_paused(self, paused: bool) -> None:
        """The page's "pause live updates" switch: leave the feeds, or join them again."""
        if paused == self.paused:
            return
        self.paused = paused
        if paused:
            await self.unwatch()
        else:
            self.shown = Shown()
            await self._resubscribe()

    @property
    def subscribed(self) -> frozenset[Key]:
        return frozenset(self._feeds)

    # -- input --

    def set_view(self, data: dict[str, Any]) -> None:
        if self.awaiting_view:
            self.awaiting_view = False
            if self.target.kind == "queue":
                self.view = ListView.parse(data)
                self.shown.rows_key = None
            elif self.target.kind == "job":
                self.logs = LogView.parse(data)
            self._refresh_all()
            if self.pending or self.toasts:
                ticker().mark(self)
            return
        if self.target.kind == "queue":
            view = ListView.parse(data)
            if view != self.view:
                self.view = view
                self.shown.rows_key = None
                self._refresh_all()
        elif self.target.kind == "job":
            logs = LogView.parse(data)
            if logs != self.logs:
                self.logs = logs
                self._refresh_all()

    def refresh(self, key: Key) -> None:
        """Re-read everything of ``key`` at the next tick."""
        self._merge(key, Changes(full=True))

    def _refresh_all(self) -> None:
        for key in self._feeds:
            self.refresh(key)

    def notice(self, text: str, level: str = "info") -> None:
        """A toast (an action done elsewhere); what it changed is re-read with it."""
        self.toasts.append(Toast(text=text, level=level))
        del self.toasts[:-MAX_TOASTS]
        self._refresh_all()
        if not self._feeds and not self.awaiting_view:
            ticker().mark(self)

    def _on_changes(self, key: Key, changes: Changes) -> None:
        self._merge(key, changes)

    def _interest(self) -> frozenset[str]:
        if self.target.kind == "job":
            return frozenset({self.target.job_id})
        if self.target.kind == "queue":
            return self.shown.ids
        return frozenset()

    def _merge(self, key: Key, changes: Changes) -> None:
        pending = self.pending.get(key)
        if pending is None:
            pending = self.pending[key] = Changes()
        pending.merge(changes, jobs=self._interest())
        if not self.awaiting_view:
            ticker().mark(self)

    def resume(self) -> None:
        """The client caught up: flush what waited, at the next tick."""
        if (self.pending or self.toasts) and not self.awaiting_view:
            ticker().mark(self)

    # -- output --

    async def flush(self, cache: TickCache) -> None:
        if self.awaiting_view:
            return  # kept until the page's view arrives (``set_view`` marks it again)
        if self.held():
            self.holds += 1
            return  # kept, and merged with what comes, until ``resume``
        # Each flush runs in its own task (the ticker gathers them): the prefix is this
        # socket's, for every ``reverse`` below.
        set_script_prefix(self.script_prefix)
        pending, self.pending = self.pending, {}
        toasts, self.toasts = self.toasts, []
        parts: list[str] = []
        for key, changes in pending.items():
            feed = self._feeds.get(key)
            if feed is None or feed.closed or not changes:
                continue
            try:
                parts.append(await self._render(key, feed, changes, cache))
            except feeds.FeedClosed:
                continue  # the page left this queue meanwhile
            except services.READ_ERRORS as exc:
                toasts.append(Toast(f"Cannot read {key[1]}: {type(exc).__name__}", "error"))
                self.shown = Shown()
            toasts.extend(self._failure_toasts(key, changes))
        if toasts:
            parts.append(render_to_string("queue_dashboard/live/toasts.html",
                                          {"toasts": toasts[-MAX_TOASTS:]}))
        html = "".join(p for p in parts if p.strip())
        if html:
            self.flushes += 1
            await self.send(html)

    async def _render(self, key: Key, feed: feeds.Feed, changes: Changes,
                      cache: TickCache) -> str:
        counts = await cache.get(("counts", feed), lambda: feed.read(services.counts))
        paused = None
        if changes.full or changes.pause_flag:
            paused = await cache.get(("paused", feed), lambda: feed.read(services.is_paused))
        if self.target.kind == "overview":
            return self._render_overview(key, counts, paused)
        if self.target.kind == "queue":
            return await self._render_queue(key, feed, changes, counts, paused, cache)
        return await self._render_job(key, feed, changes, cache)

    def _changed_counts(self, key: Key, counts: dict[str, int]) -> dict[str, int]:
        before = self.shown.counts.get(key, {})
        self.shown.counts[key] = counts
        return {s: n for s, n in counts.items() if before.get(s) != n}

    def _changed_paused(self, key: Key, paused: bool | None) -> bool | None:
        if paused is None or self.shown.paused.get(key) == paused:
            return None
        self.shown.paused[key] = paused
        return paused

    def _render_overview(self, key: Key, counts: dict[str, int], paused: bool | None) -> str:
        changed = self._changed_counts(key, counts)
        paused = self._changed_paused(key, paused)
        if not changed and paused is None:
            return ""
        return render_to_string("queue_dashboard/live/overview.html", {
            "qid": dom_id(*key),
            "counts": [(s, changed[s]) for s in STATES if s in changed],
            "paused": paused,
        })

    async def _render_queue(self, key: Key, feed: feeds.Feed, changes: Changes,
                            counts: dict[str, int], paused: bool | None,
                            cache: TickCache) -> str:
        view = self.view
        changed = self._changed_counts(key, counts)
        paused = self._changed_paused(key, paused)
        total = counts.get(view.state, 0)
        rows_html = ""
        if changes.touches(view.state, self.shown.ids) or view.state in changed:
            rows_key = ("rows", feed, view.state, view.page, view.size, view.asc, total)
            rows = await cache.get(rows_key, lambda: feed.read(lambda q: services.page_rows(
                q, view.state, view.page, view.size, view.asc, total)))
            self.shown.ids = rows.ids
            html_key = ("rows-html", self.namespace, self.script_prefix, rows_key)
            rows_html = await cache.get(html_key, lambda: _render_rows(
                self.namespace, key, view, rows))
        if not changed and paused is None and not rows_html:
            return ""
        return render_to_string("queue_dashboard/live/queue.html", {
            "counts": [(s, changed[s]) for s in STATES if s in changed],
            "paused": paused,
            "rows_html": rows_html,
        })

    async def _render_job(self, key: Key, feed: feeds.Feed, changes: Changes,
                          cache: TickCache) -> str:
        job_id = self.target.job_id
        logs = self.logs if self.logs is not None and self.logs.tail else None
        if not changes.full and job_id not in changes.jobs:
            if job_id in changes.logs and logs is not None:
                # New log lines and no event (BullMQ writes none for them): only the lines.
                new_lines = await _log_context(feed, job_id, logs)
                if new_lines["log_lines"]:
                    return render_to_string("queue_dashboard/live/job_logs.html", new_lines)
            return ""
        snapshot = await cache.get(("job", feed, job_id), lambda: feed.read(
            lambda q: services.job_snapshot(q, job_id)))
        # Follow the log list between events while the job is active (see feeds).
        feed.watch_logs(self.token, job_id,
                        logs is not None and snapshot is not None and snapshot.state == "active")
        context: dict[str, Any] = {"job": snapshot, "dashboard_ns": self.namespace,
                                   "connection": key[0], "queue": key[1]}
        if snapshot is not None and logs is not None:
            context.update(await _log_context(feed, job_id, logs))
        return render_to_string("queue_dashboard/live/job.html", context)

    def _failure_toasts(self, key: Key, changes: Changes) -> list[Toast]:
        if self.target.kind == "job" and self.target.job_id not in changes.jobs:
            return []
        out = []
        for job_id, reason in changes.failures:
            if self.target.kind == "job" and job_id != self.target.job_id:
                continue
            href = _job_url(self.namespace, key, job_id)
            where = f"{key[1]} / " if self.target.kind == "overview" else ""
            out.append(Toast(f"{where}job {job_id} failed: {shorten(reason, 200)}", "error",
                             href))
        if changes.more_failures and self.target.kind != "job":
            out.append(Toast(f"{key[1]}: {changes.more_failures} more jobs failed", "error"))
        return out


async def _log_context(feed: feeds.Feed, job_id: str, logs: LogView) -> dict[str, Any]:
    """The log lines the page lacks (after the ``known`` ones) and the new total."""
    limit = conf.get_settings().log_page_size
    tail = await feed.read(lambda q: services.log_tail(q, job_id, logs.known, limit))
    logs.known = tail.total
    return {"log_lines": tail.lines, "log_total": tail.total}


def _job_url(namespace: str, key: Key, job_id: str) -> str:
    try:
        return reverse(f"{namespace}:job", args=[key[0], key[1], job_id])
    except NoReverseMatch:
        return ""


async def _render_rows(namespace: str, key: Key, view: ListView,
                       rows: services.PageRows) -> str:
    return render_to_string("queue_dashboard/live/rows.html", {
        "dashboard_ns": namespace,
        "connection": key[0],
        "queue": key[1],
        "data": {"state": view.state, "jobs": rows.jobs, "page": rows.page},
        "order": "oldest" if view.asc else "newest",
        "size": view.size,
        "oob": True,
    })
