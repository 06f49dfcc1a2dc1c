"""``make demo``: a local Redis, the dashboard site and realistic traffic, in one command.

Starts redis-server on loopback with its data under ``var/demo/``, migrates SQLite, creates a
demo superuser and prints its credentials, starts workers and producers on several queues
(fast, slow, failing and retrying, delayed, prioritized, a cron job scheduler, a flow),
serves the site with daphne and prints the URL. Ctrl-C stops everything it started.

On loopback (the default) the password is the fixed ``DEMO_PASSWORD``, so a browser's saved
login keeps working across runs; bound to any other address it is random each run. The
server's access log and the traffic's output go to files under ``var/demo/``, so the
terminal keeps the login box readable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ipaddress
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "demo"
DEMO_USER = "demo"
#: The demo's password on loopback (documented in docs/dashboard.md, "Run it").
DEMO_PASSWORD = "queues-demo"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def demo_password(host: str) -> str:
    """Stable on loopback (only this machine can reach it); random when reachable from others."""
    return DEMO_PASSWORD if is_loopback(host) else secrets.token_urlsafe(12)


def banner(base: str, password: str, redis_url: str) -> str:
    """What the terminal shows once: where to go and how to log in, then what runs."""
    rows = [
        f"Queue dashboard  {base}/queues/",
        f"Django admin     {base}/admin/",
        f"User             {DEMO_USER}",
        f"Password         {password}",
    ]
    width = max(len(r) for r in rows)
    box = ["┌─" + "─" * width + "─┐", *(f"│ {r.ljust(width)} │" for r in rows),
           "└─" + "─" * width + "─┘"]
    return "\n" + "\n".join(box) + (
        f"\nRedis: {redis_url} (data in {VAR / 'redis'})\n"
        f"Logs: {VAR / 'daphne.log'} (server and access log), {VAR / 'traffic.log'}\n"
        "Queues: emails (fast), reports (slow, prioritized, a cron scheduler every 10 s), "
        "webhooks (failing, retried with backoff), images (prioritized backlog), invoices "
        "(delayed, some fail, and a flow waiting for a PDF and a receipt).\n"
        "Press Ctrl-C to stop everything.\n"
    )


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0,
                  host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def start_redis(port: int) -> subprocess.Popen[bytes]:
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is missing: apt-get install redis-server")
    data = VAR / "redis"
    data.mkdir(parents=True, exist_ok=True)
    proc = spawn(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "yes",
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--maxmemory-policy",
            "noeviction",
            "--logfile",
            str(data / "redis.log"),
        ],
    )
    wait_for_port(port, proc)
    return proc


def prepare_django(env: dict[str, str], password: str) -> None:
    """Migrate and create (or reset) the demo superuser with ``password``."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    code = (
        "from django.contrib.auth import get_user_model\n"
        "import os\n"
        "User = get_user_model()\n"
        f"user, _ = User.objects.get_or_create(username={DEMO_USER!r})\n"
        "user.is_staff = user.is_superuser = True\n"
        "user.set_password(os.environ['DEMO_PASSWORD'])\n"
        "user.save()\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=ROOT,
        env={**env, "DEMO_PASSWORD": password},
        check=True,
    )


# -- traffic (runs in a child process: ``demo.py --traffic URL``) -------------------------


async def send_email(job: Any) -> Any:
    await job.log(f"rendering template {job.data['template']}")
    await asyncio.sleep(random.uniform(0.05, 0.4))
    await job.update_progress(100)
    return {"delivered_to": job.data["to"]}


async def build_report(job: Any) -> Any:
    steps = random.randint(4, 10)
    for step in range(1, steps + 1):
        await asyncio.sleep(random.uniform(0.5, 1.5))
        await job.update_progress(round(100 * step / steps))
        await job.log(f"step {step}/{steps} done")
    return {"rows": random.randint(100, 100_000)}


async def call_webhook(job: Any) -> Any:
    await asyncio.sleep(random.uniform(0.1, 0.6))
    if random.random() < 0.45:
        raise ConnectionError(f"POST {job.data['url']} answered 503 Service Unavailable")
    return {"status": 200}


async def resize_image(job: Any) -> Any:
    await asyncio.sleep(random.uniform(0.3, 1.2))
    await job.update_progress({"percent": 100, "size": job.data["size"]})
    return {"thumbnail": f"{job.data['file']}.thumb.webp"}


async def charge_invoice(job: Any) -> Any:
    await asyncio.sleep(random.uniform(0.1, 0.3))
    if job.data["amount"] > 900:
        raise ValueError(f"card declined for invoice {job.data['invoice']}")
    return {"charged": job.data["amount"]}


async def produce(url: str, stop: asyncio.Event) -> None:
    from queuecore import FlowProducer, Queue

    queues = {
        n: Queue(n, connection=url) for n in ("emails", "reports", "webhooks", "images", "invoices")
    }
    flows = FlowProducer(url)
    # A cron job scheduler (seconds field first), in a time zone: one digest every 10 s.
    queues["reports"].upsert_job_scheduler(
        "digest-every-10s", pattern="*/10 * * * * *", tz="Europe/Berlin",
        name="digest", data={"customer": "all"})
    n = 0
    try:
        while not stop.is_set():
            n += 1
            queues["emails"].add(
                "welcome",
                {"to": f"user{n}@example.com", "template": "welcome"},
                remove_on_complete=500,
                remove_on_fail=200,
            )
            if n % 3 == 0:
                queues["webhooks"].add(
                    "order.paid",
                    {"url": "https://hooks.example.com/orders", "order": n},
                    attempts=4,
                    backoff={"type": "exponential", "delay": 2000},
                )
            if n % 5 == 0:
                queues["images"].add(
                    "thumbnail",
                    {"file": f"photo-{n}.jpg", "size": "256x256"},
                    priority=random.randint(1, 10),
                )
            if n % 7 == 0:
                queues["reports"].add(
                    "monthly-report", {"customer": n % 40}, priority=random.choice([None, 1, 5])
                )
            if n % 4 == 0:
                queues["invoices"].add(
                    "charge",
                    {"invoice": f"INV-{n}", "amount": random.randint(10, 1000)},
                    delay=random.randint(10_000, 120_000),
                    attempts=2,
                    backoff=5000,
                )
            if n % 40 == 0:
                # A flow: the bundle is charged once its PDF and its receipt are done.
                flows.add({
                    "name": "charge-bundle", "queue_name": "invoices",
                    "data": {"invoice": f"BUNDLE-{n}", "amount": random.randint(50, 500)},
                    "children": [
                        {"name": "render-pdf", "queue_name": "images",
                         "data": {"file": f"bundle-{n}.pdf", "size": "A4"}},
                        {"name": "receipt", "queue_name": "emails",
                         "data": {"to": f"billing{n}@example.com", "template": "receipt"}},
                    ],
                })
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=random.uniform(0.3, 0.9))
    finally:
        flows.close()
        for q in queues.values():
            q.close()


async def traffic(url: str) -> None:
    from queuecore import Worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Per-minute metrics (a day of points): the dashboard's throughput chart reads them.
    metrics = {"max_data_points": 1440}
    workers = [
        Worker("emails", send_email, connection=url, concurrency=5, metrics=metrics),
        Worker("reports", build_report, connection=url, concurrency=2, metrics=metrics),
        Worker("webhooks", call_webhook, connection=url, concurrency=3, metrics=metrics),
        Worker("images", resize_image, connection=url, concurrency=1, metrics=metrics),
        Worker("invoices", charge_invoice, connection=url, concurrency=2, metrics=metrics),
    ]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    producer = asyncio.create_task(produce(url, stop))
    await stop.wait()
    await producer
    await asyncio.gather(*(w.close(timeout=5) for w in workers), return_exceptions=True)
    await asyncio.gather(*tasks, return_exceptions=True)


# -- orchestration --------------------------------------------------------------------------


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop in reverse order, one at a time: the site, then the traffic, then Redis last, so
    workers can hand their jobs back before the server goes."""
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _die_with_parent() -> None:
    """(In the child, before exec.) Linux sends the child SIGTERM when this script dies, even
    by SIGKILL, so no redis-server or worker outlives the demo."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def spawn(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """A child in its own session: Ctrl-C reaches only this script, which stops them in order.
    The demo starts no threads, so a pre-exec function is safe here."""
    return subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_parent,
                            **kwargs)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (a free one if busy)")
    parser.add_argument(
        "--redis-port", type=int, default=6390, help="Redis port (a free one if busy)"
    )
    parser.add_argument(
        "--bind", default="127.0.0.1",
        help="IPv4 address daphne listens on (loopback: the fixed demo password; else random)",
    )
    parser.add_argument("--traffic", metavar="REDIS_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.traffic:
        sys.path.insert(0, str(ROOT))
        asyncio.run(traffic(args.traffic))
        return 0

    VAR.mkdir(parents=True, exist_ok=True)
    redis_port = free_port(args.redis_port)
    http_port = free_port(args.port)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "QUEUE_DASHBOARD_REDIS_URL": redis_url,
        "DJANGO_DB_PATH": str(VAR / "db.sqlite3"),
        "PYTHONPATH": str(ROOT),
    }
    procs: list[subprocess.Popen[bytes]] = []
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        procs.append(start_redis(redis_port))
        password = demo_password(args.bind)
        prepare_django(env, password)
        traffic_log = (VAR / "traffic.log").open("ab")
        procs.append(
            spawn(
                [sys.executable, str(Path(__file__).resolve()), "--traffic", redis_url],
                cwd=ROOT,
                env=env,
                stdout=traffic_log,
                stderr=subprocess.STDOUT,
            )
        )
        server_log = (VAR / "daphne.log").open("ab")
        daphne = spawn(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                args.bind,
                "-p",
                str(http_port),
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            # The access log would bury the login box: it goes to a file.
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        procs.append(daphne)
        host = "127.0.0.1" if args.bind in ("0.0.0.0", "localhost") else args.bind
        wait_for_port(http_port, daphne, host=host)
        print(banner(f"http://{host}:{http_port}", password, redis_url), flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("a demo process stopped; shutting down", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_all(procs)


if __name__ == "__main__":
    sys.exit(main())
