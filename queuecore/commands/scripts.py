"""Loads the Lua scripts under ``lua/`` once, resolves ``-- @include "name"`` lines, and names
them by SHA1. Runners call them with EVALSHA and load them again on NOSCRIPT."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

_INCLUDE = re.compile(r'^-- @include "([a-z_]+)"\s*$', re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    source: str
    sha: str


def _read(path: str) -> str:
    node = resources.files("queuecore.commands").joinpath("lua")
    for part in path.split("/"):
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8")


def _resolve(source: str, seen: set[str]) -> str:
    def include(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in seen:
            return f"-- ({name} already included)"
        seen.add(name)
        return _resolve(_read(f"includes/{name}.lua"), seen)

    return _INCLUDE.sub(include, source)


@cache
def get_script(name: str) -> Script:
    """The script ``lua/<name>.lua`` with its includes resolved."""
    source = _resolve(_read(f"{name}.lua"), set())
    return Script(name, source, hashlib.sha1(source.encode("utf-8")).hexdigest())


def script_names() -> list[str]:
    root = resources.files("queuecore.commands").joinpath("lua")
    return sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".lua"))
