"""The live dashboard under abuse: many sockets held for a long time, daphne's RSS and CPU.

    .venv/bin/python bench/live_abuse.py [--sockets 500] [--seconds 600] [--users 25]

Starts its own redis-server (free loopback port) and one daphne process serving the example
project with the dashboard's default caps (20 sockets a user, 10 messages a second in bursts
of 40, sockets that read nothing for 60 s closed), then holds ``--sockets`` websockets of
``--users`` users (real websocket clients, tests/dashboard/wsclient.py) for ``--seconds``:

- two queues each get ``--jobs-per-second`` synthetic job lives (bench/live_dashboard.py's
  writer, one process per queue), so that the sockets on them are flushed at the full
  coalescing rate (4 updates a second); 20 % of the sockets watch the overview;
- ``--slow`` of the sockets never read (their client stops after the handshake): the server
  must hold their updates instead of buffering them, and close them after 60 s;
- a flooder (one more user) sends a burst of 400 messages every 30 s on a fresh socket (closed
  with 4429 each time) and tries one socket over the cap of a full user (closed with 4409).

Every ``--every`` seconds it samples daphne's RSS (VmRSS) and CPU time (utime + stime from
/proc), the machine's load average, the frames the clients received and the sockets still
open. Written to bench/results/live-abuse-<date>.json: the samples, RSS at start and end of
the hold with its least-squares slope (MiB a minute, over the hold after the first minute),
CPU as a percentage of one core per interval, and the close codes the clients saw.
``--slow-reader SECONDS`` measures one client that stops reading instead: a reading and a
non-reading socket (it keeps sending a message every 5 s, so daphne never pings it) on a
100-row queue page while jobs with 300-character names are added (about 60 KB a flush); it
samples daphne's RSS, then lets the slow one read, and reports the frames and bytes each
was sent and when the slow one saw the final count (bench/results/live-slow-<date>.json).

``hold`` is also used by a short test (tests/dashboard/test_live_abuse.py), which checks
correctness only: every socket served, the caps enforced.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.live_dashboard import synthetic_writer  # noqa: E402
from tests.dashboard.livesite import LiveSite  # noqa: E402
from tests.dashboard.wsclient import Closed, WebSocket  # noqa: E402
from tests.redisproc import RedisProcess  # noqa: E402

LIVE = "/ws/queue-dashboard/"
QUEUES = ("abuse-a", "abuse-b")
SOCKETS_PER_USER = 20  # the default LIVE_SOCKETS_PER_USER


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per minute."""
    if len(points) < 2:
        return 0.0
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


@dataclass
class Client:
    ws: WebSocket
    path: str
    frames: int = 0
    bytes: int = 0
    closed: int | None = None  # close code, or -1 for a dropped connection
    slow: bool = False


@dataclass
class Hold:
    clients: list[Client] = field(default_factory=list)
    codes: Counter[int] = field(default_factory=Counter)
    over_cap: list[int] = field(default_factory=list)
    floods: list[int] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)


async def _open(port: int, origin: str, session: str, path: str) -> WebSocket:
    return await WebSocket.connect(f"ws://127.0.0.1:{port}{LIVE}{path}",
                                   cookie=f"sessionid={session}", origin=origin)


async def _read(client: Client) -> None:
    try:
        while True:
            text = await client.ws.recv()
            client.frames += 1
            client.bytes += len(text)
    except Closed as exc:
        client.closed = exc.code
    except (ConnectionError, asyncio.IncompleteReadError):
        client.closed = -1


async def _refused_code(port: int, origin: str, session: str, path: str) -> int:
    """Open one socket and return the code it is closed with (0: not closed within 30 s)."""
    ws = await _open(port, origin, session, path)
    try:
        return await _refused_code_of(ws)
    finally:
        await ws.close()


async def _flood(port: int, origin: str, session: str, messages: int) -> int:
    ws = await _open(port, origin, session, f"default/q/{QUEUES[0]}/")
    try:
        for n in range(messages):
            await ws.send(json.dumps({"state": "waiting", "page": "1", "paused": str(n % 2)}))
        return await _refused_code_of(ws)
    finally:
        await ws.close()


async def _refused_code_of(ws: WebSocket) -> int:
    try:
        async with asyncio.timeout(30):
            while True:
                await ws.recv()
    except Closed as exc:
        return exc.code
    except TimeoutError:
        return 0


async def hold(port: int, origin: str, sessions: list[str], flooder: str, *, sockets: int,
               seconds: float, slow: int, every: float, pid: int,
               flood_every: float = 30.0) -> Hold:
    """Open ``sockets`` sockets spread over ``sessions`` (at most 20 each), keep them for
    ``seconds`` while sampling daphne (``pid``), and flood from ``flooder`` meanwhile."""
    out = Hold()
    slow_ones = set(range(0, sockets, max(1, sockets // slow))[:slow]) if slow else set()
    for n in range(sockets):
        path = "" if n % 5 == 4 else f"default/q/{QUEUES[n % 2]}/"
        ws = await _open(port, origin, sessions[n // SOCKETS_PER_USER], path)
        out.clients.append(Client(ws, path, slow=n in slow_ones))
    tasks = [asyncio.create_task(_read(c)) for c in out.clients if not c.slow]
    # One socket over the cap of the first (full) user.
    out.over_cap.append(await _refused_code(port, origin, sessions[0], ""))
    start = time.monotonic()
    cpu0, at0 = cpu_seconds(pid), start
    next_flood = start
    while (now := time.monotonic()) - start < seconds:
        if now >= next_flood:
            out.floods.append(await _flood(port, origin, flooder, 400))
            next_flood = now + flood_every
        await asyncio.sleep(max(0.0, min(every, start + seconds - time.monotonic())))
        cpu, at = cpu_seconds(pid), time.monotonic()
        out.samples.append({
            "t": round(at - start, 1),
            "rss_kib": rss_kib(pid),
            "cpu_percent": round(100 * (cpu - cpu0) / (at - at0), 1),
            "load1": round(os.getloadavg()[0], 2),
            "frames": sum(c.frames for c in out.clients),
            "open": sum(1 for c in out.clients if c.closed is None),
        })
        cpu0, at0 = cpu, at
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for client in out.clients:
        if client.slow and client.closed is None:
            client.closed = await _slow_end(client)
    out.codes = Counter(c.closed for c in out.clients if c.closed is not None)
    for client in out.clients:
        with contextlib.suppress(Exception):
            await client.ws.close()
    return out


async def _slow_end(client: Client) -> int:
    """How a never-read socket ended: read what the server left in it (the close, if any)."""
    try:
        async with asyncio.timeout(10):
            while True:
                await client.ws.recv()
                client.frames += 1
    except Closed as exc:
        return exc.code
    except (ConnectionError, asyncio.IncompleteReadError):
        return -1
    except TimeoutError:
        return 0


def summary(result: Hold, sockets: int, seconds: float) -> dict[str, Any]:
    samples = result.samples
    steady = [(s["t"], s["rss_kib"] / 1024) for s in samples if s["t"] >= min(60.0, seconds / 3)]
    cpus = [s["cpu_percent"] for s in samples]
    fast = [c for c in result.clients if not c.slow]
    return {
        "sockets": sockets,
        "seconds": seconds,
        "slow_sockets": sum(c.slow for c in result.clients),
        "rss_mib_start": round(samples[0]["rss_kib"] / 1024, 1) if samples else None,
        "rss_mib_end": round(samples[-1]["rss_kib"] / 1024, 1) if samples else None,
        "rss_mib_max": round(max(s["rss_kib"] for s in samples) / 1024, 1) if samples else None,
        "rss_slope_mib_per_minute": round(slope_per_minute(steady), 3),
        "cpu_percent_mean": round(statistics.fmean(cpus), 1) if cpus else None,
        "cpu_percent_first_minute": _mean_between(samples, 0, 60),
        "cpu_percent_last_minute": _mean_between(samples, seconds - 60, seconds + 1),
        "load1_mean": round(statistics.fmean(s["load1"] for s in samples), 2) if samples else None,
        "frames_per_socket_per_second": round(
            statistics.fmean(c.frames for c in fast) / seconds, 2) if fast else None,
        "reading_sockets_served": sum(1 for c in fast if c.frames),
        "reading_sockets_open_at_end": sum(1 for c in fast if c.closed is None),
        "close_codes": {str(k): v for k, v in sorted(result.codes.items())},
        "over_cap_codes": result.over_cap,
        "flood_codes": result.floods,
    }


def _mean_between(samples: list[dict[str, Any]], lo: float, hi: float) -> float | None:
    got = [s["cpu_percent"] for s in samples if lo < s["t"] <= hi]
    return round(statistics.fmean(got), 1) if got else None


def start_writers(url: str, jobs_per_second: int) -> tuple[list[Any], Any]:
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    procs = []
    for name in QUEUES:
        counters = ctx.Array("d", 4)  # kept alive with the process (its lock is shared)
        proc = ctx.Process(target=synthetic_writer,
                           args=(url, name, jobs_per_second, counters, stop), daemon=True)
        proc.counters = counters  # type: ignore[attr-defined]
        proc.start()
        procs.append(proc)
    # The queues exist before any socket opens (the overview lists them at its handshake).
    deadline = time.monotonic() + 120
    while not all(p.counters[0] for p in procs):  # type: ignore[attr-defined]
        if time.monotonic() > deadline or not all(p.is_alive() for p in procs):
            raise RuntimeError("the synthetic writers did not start")
        time.sleep(0.05)
    return procs, stop


def stop_writers(procs: list[Any], stop: Any) -> None:
    stop.set()
    for proc in procs:
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join(10)


async def slow_reader(daphne: Any, session: str, url: str, seconds: float) -> dict[str, Any]:
    from tests.dashboard.slowclient import Producer, unread_socket

    path = "default/q/big/"
    reading = await _open(daphne.port, daphne.url, session, path)
    slow = await unread_socket(daphne, session, path)
    fast = Client(reading, path)

    async def keep_sending() -> None:
        while True:
            await slow.send(json.dumps({"state": "waiting"}))
            await asyncio.sleep(5)

    tasks = [asyncio.create_task(_read(fast)), asyncio.create_task(keep_sending())]
    producer = Producer(url, "big")
    rss: list[tuple[float, int]] = []
    start = time.monotonic()
    try:
        while time.monotonic() - start < seconds:
            await asyncio.sleep(1)
            rss.append((round(time.monotonic() - start, 1), rss_kib(daphne.proc.pid)))
    finally:
        final = await asyncio.to_thread(producer.close)
    fast_frames, fast_bytes = fast.frames, fast.bytes
    caught = Client(slow, path, slow=True)
    needle = f'id="tab-count-waiting" hx-swap-oob="true">{final}<'
    async with asyncio.timeout(120):
        while True:
            text = await slow.recv()
            caught.frames += 1
            caught.bytes += len(text)
            if needle in text:
                break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await reading.close()
    await slow.close()
    return {
        "seconds": seconds,
        "reading_frames": fast_frames,
        "reading_mib": round(fast_bytes / 2**20, 2),
        "slow_frames_until_latest": caught.frames,
        "slow_mib_until_latest": round(caught.bytes / 2**20, 2),
        "slow_saw_final_count": True,
        "rss_mib_start": round(rss[0][1] / 1024, 1),
        "rss_mib_end": round(rss[-1][1] / 1024, 1),
        "rss_slope_mib_per_minute": round(slope_per_minute([(t, k / 1024) for t, k in rss]), 3),
        "held": daphne.log().count("write buffer full, holding"),
        "drained": daphne.log().count("write buffer drained"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--slow", type=int, default=10)
    parser.add_argument("--jobs-per-second", type=int, default=100)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--slow-reader", type=float, default=0.0, metavar="SECONDS")
    args = parser.parse_args()
    if args.slow_reader:
        run_slow_reader(args.slow_reader, args.out)
        return
    users = -(-args.sockets // SOCKETS_PER_USER)

    server = RedisProcess().start()
    with tempfile.TemporaryDirectory(prefix="qd-abuse-") as tmp:
        site = LiveSite(Path(tmp), server.url, rate=4, page_size=25)
        writers: list[Any] = []
        try:
            sessions = site.make_sessions("holder", users)
            flooder = site.make_sessions("flooder", 1)[0]
            daphne = site.start_daphne()
            writers, stop = start_writers(server.url, args.jobs_per_second)
            load_before = os.getloadavg()
            result = asyncio.run(hold(daphne.port, daphne.url, sessions, flooder,
                                      sockets=args.sockets, seconds=args.seconds,
                                      slow=args.slow, every=args.every,
                                      pid=daphne.proc.pid))
            stop_writers(writers, stop)
            writers = []
            alive = daphne.proc.poll() is None
        finally:
            if writers:
                stop_writers(writers, stop)
            site.close()
            server.close()
    figures = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "users": users,
        "jobs_per_second_per_queue": args.jobs_per_second,
        "daphne_alive_at_end": alive,
        **summary(result, args.sockets, args.seconds),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"live-abuse-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps({**figures, "samples": result.samples}, indent=2) + "\n",
                    encoding="utf-8")
    print(json.dumps(figures, indent=2))
    print(f"written to {path}")


def run_slow_reader(seconds: float, out: Path) -> None:
    server = RedisProcess().start()
    with tempfile.TemporaryDirectory(prefix="qd-slow-") as tmp:
        site = LiveSite(Path(tmp), server.url, page_size=100, log_level="DEBUG",
                        settings={"MAX_PAGE_SIZE": 100, "LIVE_STALLED_SECONDS": 3600})
        try:
            daphne = site.start_daphne()
            figures = asyncio.run(slow_reader(daphne, site.session, server.url, seconds))
        finally:
            site.close()
            server.close()
    figures = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "load_at_end": [round(x, 2) for x in os.getloadavg()], **figures}
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"live-slow-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
