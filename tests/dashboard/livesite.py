"""The example project under real daphne processes, for the browser, multi-process and
benchmark runs: a migrated SQLite file, a superuser's session, and daphne on free ports.

Everything runs as child processes of the caller and is stopped by ``close()``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.redisproc import free_port

ROOT = Path(__file__).resolve().parents[2]
ASGI_APP = "tests.dashboard.example_project.asgi:application"
SETTINGS = "tests.dashboard.example_project.live_settings"
MOUNT = "/ops/tools/queues/"

_MAKE_SESSION = """
import django
django.setup()
from django.contrib.auth.models import User
from django.test import Client
user = User.objects.create_superuser("admin", "admin@example.com", "pw")
client = Client()
client.force_login(user)
print(client.cookies["sessionid"].value)
"""

_MAKE_USER_SESSIONS = """
import django
django.setup()
from django.contrib.auth.models import User
from django.test import Client
for n in range({count}):
    user = User.objects.create_user(f"{prefix}{{n}}", "", "pw", is_staff=True,
                                    is_superuser={superuser})
    client = Client()
    client.force_login(user)
    print(client.cookies["sessionid"].value)
"""


class Daphne:
    def __init__(self, site: LiveSite, port: int, app: str = ASGI_APP) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = site.dir / f"daphne-{port}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app],
            cwd=ROOT, env=site.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log()}")
            try:
                with urllib.request.urlopen(self.url + MOUNT + "health/", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not answer on {self.port}: {self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


class LiveSite:
    """A SQLite file with a superuser (``session`` is its session cookie) and daphnes."""

    def __init__(self, directory: Path, redis_url: str, *, channel_redis: str = "",
                 rate: int = 4, page_size: int = 10, settings: dict[str, Any] | None = None,
                 log_level: str = "WARNING") -> None:
        self.dir = directory
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "QD_LIVE_DB": str(directory / "live.sqlite3"),
            "QD_LIVE_REDIS": redis_url,
            "QD_LIVE_CHANNEL_REDIS": channel_redis,
            "QD_LIVE_RATE": str(rate),
            "QD_LIVE_PAGE_SIZE": str(page_size),
            "QD_LIVE_SETTINGS": json.dumps(settings or {}),
            "QD_LIVE_LOG_LEVEL": log_level,
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
        }
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.daphnes: list[Daphne] = []
        self._run([sys.executable, "-m", "django", "migrate", "--noinput", "-v0"])
        self.session = self._run([sys.executable, "-c", _MAKE_SESSION]).strip().splitlines()[-1]

    def _run(self, args: list[str]) -> str:
        done = subprocess.run(args, cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=120, check=False)
        if done.returncode:
            raise RuntimeError(f"{args[:3]} failed: {done.stderr[-3000:]}")
        return done.stdout

    def django(self, script: str) -> str:
        """Run ``script`` against the site's database (after ``django.setup()``); its output."""
        return self._run([sys.executable, "-c", "import django\ndjango.setup()\n" + script])

    def make_sessions(self, prefix: str, count: int = 1, *, superuser: bool = True) -> list[str]:
        """Session cookies of ``count`` new users ``<prefix><n>`` (password ``pw``)."""
        script = _MAKE_USER_SESSIONS.format(prefix=prefix, count=count, superuser=superuser)
        return self._run([sys.executable, "-c", script]).strip().splitlines()[-count:]

    def start_daphne(self, app: str = ASGI_APP) -> Daphne:
        daphne = Daphne(self, free_port(), app)
        self.daphnes.append(daphne)
        return daphne

    def close(self) -> None:
        for daphne in self.daphnes:
            daphne.stop()


def start_worker(redis_url: str, queue: str, processor: str, *, concurrency: int = 1,
                 log_path: Path | None = None) -> subprocess.Popen[bytes]:
    """``python -m queuecore worker`` as a child process (stop it with ``stop_process``)."""
    out = log_path.open("wb") if log_path else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "queuecore", "worker", processor, "--queue", queue,
         "--url", redis_url, "--concurrency", str(concurrency)],
        cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
    )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
