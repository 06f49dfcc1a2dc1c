"""The wheel and sdist, built once per test process from a copy of the sources (so the
build writes nothing into the checkout) with the pinned setuptools, without network
(``--no-isolation``), and checked by twine. Used by tests/test_dist.py and the end-to-end
install test of the dashboard."""

from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "queuecore", "dashboard",
           "docs")
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path
    twine_output: str


@cache
def built() -> Dist:
    work = Path(tempfile.mkdtemp(prefix="qc-dist-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    src = work / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    out = work / "dist"
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)])
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    checked = run([str(BIN / "twine"), "check", "--strict", str(wheel), str(sdist)])
    return Dist(wheel=wheel, sdist=sdist, twine_output=checked)


def run(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode:
        raise AssertionError(f"{args[:4]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout
