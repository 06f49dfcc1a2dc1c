"""One version string, and dependency floors that the suite really runs on."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import redis

import queuecore
from queuecore import Queue
from queuecore.commands.scripts import get_script, script_names

ROOT = Path(__file__).resolve().parent.parent


def test_scripts_write_the_package_version(redis_url: str, r: redis.Redis) -> None:
    for name in script_names():
        assert "@QC_VERSION@" not in get_script(name).source, name
    queue = Queue("versioned", redis_url)
    try:
        queue.add("j", {})
    finally:
        queue.close()
    assert r.hget("bull:versioned:meta", "version") == f"queuecore:{queuecore.__version__}"


def test_pyproject_reads_the_version_from_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "queuecore.base.version.__version__"


def test_the_redis_floor_is_the_redis_py_the_tests_run_on() -> None:
    """The declared floor is tested: it is the major.minor of the redis-py installed here
    (requirements.txt pins it). Raising the pin means raising the floor with it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [spec] = [d for d in project["project"]["dependencies"] if re.match(r"redis\b", d)]
    floor = re.fullmatch(r"redis>=(\d+)\.(\d+)", spec)
    assert floor is not None, spec
    major, minor = version("redis").split(".")[:2]
    assert (floor.group(1), floor.group(2)) == (major, minor)
