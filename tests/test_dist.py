"""The wheel and sdist build and pass ``twine check``; the wheel holds what an installed
project needs (Lua scripts, templates, static files, migrations, the license) and nothing of
tests/ or bench/; the sdist carries the docs the README names."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from tests.distbuild import ROOT, built


def wheel_names() -> set[str]:
    with zipfile.ZipFile(built().wheel) as wheel:
        return set(wheel.namelist())


def repo_files(package: str, pattern: str) -> set[str]:
    base = ROOT / package
    return {p.relative_to(ROOT).as_posix() for p in base.rglob(pattern)
            if "__pycache__" not in p.parts}


def test_build_and_twine_check() -> None:
    dist = built()
    assert dist.wheel.name.endswith("-py3-none-any.whl")
    assert dist.twine_output.count("PASSED") == 2, dist.twine_output


def test_wheel_holds_every_lua_script_wherever_it_sits() -> None:
    lua = repo_files("queuecore", "*.lua")
    assert len(lua) > 20
    assert lua <= wheel_names()


def test_wheel_holds_templates_static_files_and_migrations() -> None:
    names = wheel_names()
    for folder in (
        "dashboard/templates", "dashboard/static", "dashboard/migrations", "dashboard/locale"
    ):
        files = {f for f in repo_files(folder, "*") if (ROOT / f).is_file()}
        assert files, folder
        assert files <= names, sorted(files - names)[:5]
    assert "dashboard/py.typed" in names and "queuecore/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_wheel_holds_nothing_of_tests_or_bench() -> None:
    names = wheel_names()
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"queuecore", "dashboard"}
    assert not [n for n in names if n.startswith(("tests/", "bench/", "config/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_sdist_carries_the_docs_the_readme_names() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = {part.split("`", 1)[0] for part in readme.split("`docs/")[1:]} - {""}
    assert "dashboard.md" in named
    with tarfile.open(built().sdist) as sdist:
        members = {Path(m).relative_to(Path(m).parts[0]).as_posix()
                   for m in sdist.getnames() if len(Path(m).parts) > 1}
    assert {f"docs/{n}" for n in named} <= members
    assert "LICENSE" in members
    assert "](docs/" not in readme  # no relative links: they lead nowhere on an index page
