"""Issue 13's "done when": a new user's project, made by ``django-admin startproject`` in a
temporary directory, with the code blocks of docs/dashboard.md ("Install in your project",
marked ``<!-- install:NAME -->``) applied as they are, and the built wheel installed into a
fresh venv. Then, in headless Chromium: a styled page, a live count change, the admin entry,
403 for a signed-in user who is not staff, and a job enqueued on commit that
``queuecore_worker --processes 2`` runs against the ORM; once under ``runserver`` (daphne,
DEBUG) and once under ``daphne --root-path`` with ``DEBUG = False``, WhiteNoise and the
manifest storage.

The venv has no pip and no packages of its own but the wheel (installed with ``--no-deps``):
a ``.pth`` file puts the shared venv's site-packages behind it, so the dashboard's
dependencies come from the pinned requirements without network, and the shared venv's
editable checkout is not on the path (a ``.pth`` named inside a ``.pth`` is not run)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from queuecore import Queue
from tests.dashboard.chromium import ARGS, ARTIFACTS, CHROMIUM, require_chromium
from tests.distbuild import built
from tests.redisproc import free_port
from tests.waiting import TIMEOUT

require_chromium()

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "dashboard.md"
DOC_REDIS = "redis://127.0.0.1:6379/0"
BOSS = ("boss", "Boss-pass-1234")
ROOT_PATH = "/shop"
#: Deadlines of the browser's waits (ms): generous, for a loaded machine. A worker's start
#: includes two spawned children that each set Django up before the first job.
WAIT_MS = 30_000
STARTUP_MS = 120_000

_USERS = """
from django.contrib.auth.models import User
from django.test import Client
User.objects.create_superuser("boss", "boss@example.com", "Boss-pass-1234")
plain = User.objects.create_user("plain", password="Plain-pass-1234")
client = Client()
client.force_login(plain)
print(client.cookies["sessionid"].value)
"""


def doc_blocks() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(r"<!-- install:(\w+) -->\n```\w+\n(.*?)\n```", text, re.S)
    return dict(found)


def commands(block: str) -> list[str]:
    return [line.split("  #")[0].strip() for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@dataclass
class Project:
    dir: Path
    python: Path
    env: dict[str, str]
    blocks: dict[str, str]
    plain_session: str = ""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def manage(self, *args: str, settings: str = "shop.settings") -> str:
        env = {**self.env, "DJANGO_SETTINGS_MODULE": settings}
        done = subprocess.run([str(self.python), "manage.py", *args], cwd=self.dir, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"manage.py {args[0]}: {done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def start(self, name: str, args: list[str], settings: str = "shop.settings"
              ) -> subprocess.Popen[bytes]:
        log = (self.dir / f"{name}.log").open("wb")
        proc = subprocess.Popen([str(self.python), *args], cwd=self.dir, stdout=log,
                                stderr=subprocess.STDOUT,
                                env={**self.env, "DJANGO_SETTINGS_MODULE": settings})
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.dir / f"{name}.log").read_text(errors="replace")[-4000:]


def stop(proc: subprocess.Popen[bytes]) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str, project: Project) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited: {project.log(what)}"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{what} did not answer: {project.log(what)}")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    started = time.monotonic()
    blocks = doc_blocks()
    assert set(blocks) >= {"pip", "settings", "urls", "asgi", "run", "tasks", "subpath"}
    assert commands(blocks["pip"]) == ['pip install "queuecore[dashboard]" whitenoise']
    dist = built()
    base = tmp_path_factory.mktemp("install")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)
    python = venv / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=30).stdout.strip())
    (site / "shared_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", "--disable-pip-version-check", str(dist.wheel)],
                   check=True, timeout=120, capture_output=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = subprocess.run(
        [str(python), "-c", "import dashboard, queuecore, whitenoise, daphne, channels_redis;"
         "print(dashboard.__file__); print(queuecore.__file__)"],
        capture_output=True, text=True, env=env, cwd=base, check=True, timeout=60).stdout
    assert all(line.startswith(str(site)) for line in where.split()), where  # the wheel's
    (base / "shop").mkdir()
    subprocess.run([str(python), "-m", "django", "startproject", "shop", str(base / "shop")],
                   env=env, check=True, timeout=60)
    proj = Project(dir=base / "shop", python=python, env=env, blocks=blocks)
    proj.timings["setup"] = time.monotonic() - started
    yield proj
    for proc in proj.procs:
        stop(proc)


def apply_docs(project: Project, redis_url: str) -> None:
    """The docs' blocks, as the docs say: appended to settings.py and urls.py, asgi.py and
    tasks.py written; the Redis URL is the private server's."""
    pkg = project.dir / "shop"
    settings = project.blocks["settings"]
    assert DOC_REDIS in settings
    with (pkg / "settings.py").open("a") as fh:
        fh.write("\n" + settings.replace(DOC_REDIS, redis_url) + "\n")
    with (pkg / "urls.py").open("a") as fh:
        fh.write("\n" + project.blocks["urls"] + "\n")
    (pkg / "asgi.py").write_text(project.blocks["asgi"] + "\n")
    tasks = project.blocks["tasks"]
    assert tasks.startswith("# shop/tasks.py")
    (pkg / "tasks.py").write_text(tasks + "\n")
    # Production: the same settings, DEBUG off, under the documented sub-path.
    (pkg / "settings_prod.py").write_text(
        "from shop.settings import *  # noqa\n\nDEBUG = False\n" + project.blocks["subpath"]
        + "\n")


def test_a_new_project_following_the_docs(project: Project, redis_url: str) -> None:
    apply_docs(project, redis_url)
    run = commands(project.blocks["run"])
    assert run[:3] == ["python manage.py migrate", "python manage.py check",
                       "python manage.py runserver"], run
    assert run[3] == "python manage.py collectstatic --noinput"
    assert run[4].startswith("daphne ") and run[4].endswith(" shop.asgi:application")
    t0 = time.monotonic()
    project.manage("migrate", "--noinput")
    checked = project.manage("check")
    assert "queue_dashboard" not in checked and "no issues" in checked, checked
    project.plain_session = project.manage("shell", "-c", _USERS).strip().splitlines()[-1]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            # Development: runserver is daphne (daphne in INSTALLED_APPS), DEBUG on.
            port = free_port()
            server = project.start("runserver", ["manage.py", "runserver", f"127.0.0.1:{port}",
                                                 "--noreload"])
            wait_http(f"http://127.0.0.1:{port}/admin/login/", server, "runserver", project)
            assert "Daphne" in project.log("runserver")
            exercise(browser, project, f"http://127.0.0.1:{port}", "", "runserver", redis_url,
                     shots=True)
            stop(server)

            # Production: collectstatic, daphne under a root path, DEBUG off, WhiteNoise.
            redis.Redis.from_url(redis_url).flushall()
            project.manage("collectstatic", "--noinput", settings="shop.settings_prod")
            port = free_port()
            daphne = project.start("daphne", [
                "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--root-path", ROOT_PATH,
                "shop.asgi:application"], settings="shop.settings_prod")
            wait_http(f"http://127.0.0.1:{port}{ROOT_PATH}/admin/login/", daphne, "daphne",
                      project)
            exercise(browser, project, f"http://127.0.0.1:{port}", ROOT_PATH, "daphne",
                     redis_url, shots=False)
            stop(daphne)
        finally:
            browser.close()
    project.timings["browser and servers"] = time.monotonic() - t0
    print("install test timings (s):",
          {k: round(v, 1) for k, v in project.timings.items()})


def exercise(browser: Any, project: Project, origin: str, prefix: str, server: str,
             redis_url: str, *, shots: bool) -> None:
    base = origin + prefix
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("favicon.ico") else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    # Anonymous: sent to the admin's login (LOGIN_URL), then back to the dashboard.
    page.goto(base + "/queues/")
    assert page.url.startswith(base + "/admin/login/?next="), page.url
    page.fill("#id_username", BOSS[0])
    page.fill("#id_password", BOSS[1])
    page.click("input[type=submit]")
    page.wait_for_url(base + "/queues/")

    # Styled: the dashboard's stylesheet loaded (through the project's static files).
    header_bg = page.evaluate(
        "getComputedStyle(document.querySelector('.qd-header')).backgroundColor")
    assert header_bg == "rgb(36, 41, 47)"
    css = page.get_attribute("link[rel=stylesheet]", "href") or ""
    if prefix:  # the manifest storage's hashed name, under the sub-path
        assert re.fullmatch(rf"{prefix}/static/queue_dashboard/dashboard\.[0-9a-f]{{12}}\.css",
                            css), css

    # Live: the queue page's socket connects under the prefix; a job added on commit (the
    # docs' tasks.sign_up) changes the waiting count without a reload.
    page.goto(base + "/queues/default/q/emails/")
    expect(page.locator("#qd-live-status")).to_have_text("live", timeout=WAIT_MS)
    expect(page.locator("#tab-count-waiting")).to_have_text("0", timeout=WAIT_MS)
    username = f"new-{server}"
    settings = "shop.settings_prod" if prefix else "shop.settings"
    project.manage("shell", "-c", f"from shop.tasks import sign_up; sign_up({username!r})",
                   settings=settings)
    expect(page.locator("#tab-count-waiting")).to_have_text("1", timeout=WAIT_MS)
    if shots:
        shoot(page, "install-queue-1440-light")

    # The worker (child processes that set Django up) runs it against the committed row.
    worker = project.start(f"worker-{server}", [
        "manage.py", "queuecore_worker", "shop.tasks:welcome", "--queue", "emails",
        "--processes", "2"], settings=settings)
    expect(page.locator("#tab-count-completed")).to_have_text("1", timeout=STARTUP_MS)
    assert stop(worker) == 0, project.log(f"worker-{server}")
    with Queue("emails", redis_url) as queue:
        [job] = queue.get_jobs(["completed"])
        assert job.return_value == {"greeted": username}

    # The admin entry: "Queues > Queue dashboard", the same views in the admin's look.
    page.goto(base + "/admin/")
    page.click("text=Queue dashboard")
    page.wait_for_url(re.compile(re.escape(base + "/admin/queue_dashboard/")))
    expect(page.locator("#site-name")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".qd-main")).to_be_visible(timeout=WAIT_MS)
    if shots:
        dark = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
        dark.add_cookies(context.cookies())
        phone = dark.new_page()
        phone.goto(base + "/admin/queue_dashboard/queuedashboard/default/q/emails/")
        expect(phone.locator("#qd-live-status")).to_have_text("live", timeout=WAIT_MS)
        shoot(phone, "install-admin-queue-390-dark")
        phone.goto(base + "/queues/help/live/")
        shoot(phone, "install-live-help-390-dark")
        dark.close()
    context.close()

    # Signed in but not staff: 403.
    plain = browser.new_context()
    plain.add_cookies([{"name": "sessionid", "value": project.plain_session, "url": origin}])
    response = plain.new_page().goto(base + "/queues/")
    assert response is not None and response.status == 403
    plain.close()
    assert problems == [], problems


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
