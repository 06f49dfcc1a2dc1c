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


# A top-level local function (its body indented, closed by an "end" at the start of a line)
# or a top-level local table written over several lines.
_DEFINITION = re.compile(r"^local function ([A-Za-z_]\w*)\(.*?^end\b[^\n]*\n"
                         r"|^local ([A-Za-z_]\w*) = \{\n.*?^\}[^\n]*\n", re.MULTILINE | re.DOTALL)


def _without_unused(source: str) -> str:
    """``source`` without the included definitions it never uses. Redis runs a script's
    whole body on every call, so each function of an include is a closure made again per
    call (the common include alone costs about 1.5 µs a call, more than an HMGET). Kept:
    any name that appears anywhere else, comments included; any definition whose block holds
    an unindented line other than its last (not the shape this cut understands)."""
    while True:
        for match in _DEFINITION.finditer(source):
            block = match.group(0)
            if any(line[:1] not in ("", " ") for line in block.splitlines()[1:-1]):
                continue
            name = match.group(1) or match.group(2)
            rest = source[:match.start()] + source[match.end():]
            if not re.search(rf"\b{name}\b", rest):
                source = rest
                break  # offsets moved: look again
        else:
            return source


@cache
def get_script(name: str) -> Script:
    """The script ``lua/<name>.lua`` with its includes resolved (and the included
    definitions it does not use left out)."""
    source = _without_unused(_resolve(_read(f"{name}.lua"), set()))
    return Script(name, source, hashlib.sha1(source.encode("utf-8")).hexdigest())


def script_names() -> list[str]:
    root = resources.files("queuecore.commands").joinpath("lua")
    return sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".lua"))
