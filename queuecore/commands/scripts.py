"""Loads the Lua scripts under ``lua/`` once, resolves ``-- @include "name"`` lines, and names
them by SHA1. Runners call them with EVALSHA and load them again on NOSCRIPT."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..base.version import __version__

_INCLUDE = re.compile(r'^-- @include "([a-z_]+)"\s*$', re.MULTILINE)
# The scripts write "queuecore:<version>" into a queue's meta hash (where BullMQ writes
# "bullmq:<version>"); the token is replaced when a script is read, so the version has one
# source. A version is plain text: checked, so it can never change a script's meaning.
_VERSION_TOKEN = "@QC_VERSION@"
if not re.fullmatch(r"[0-9A-Za-z.+-]+", __version__):  # pragma: no cover
    raise RuntimeError(f"unexpected package version {__version__!r}")


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    source: str
    sha: str


def _read(path: str) -> str:
    node = resources.files("queuecore.commands").joinpath("lua")
    for part in path.split("/"):
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8").replace(_VERSION_TOKEN, __version__)


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
