"""Processors named by module path ("pkg.module:function"), for child processes and the CLI.

A child process imports its processor by this path: nothing from the job, and no function
object, is ever pickled across the process boundary.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..base.errors import InvalidOptionsError


def target_path(target: str | Callable[..., Any]) -> str:
    """"module:qualname" of a processor given as that text or as a top-level function."""
    if isinstance(target, str):
        module, sep, qualname = target.partition(":")
        parts = [*module.split("."), *qualname.split(".")]
        if not sep or not all(part.isidentifier() for part in parts):
            raise InvalidOptionsError(
                f"a processor target looks like 'pkg.module:function', got {target!r}")
        return target
    if not callable(target):
        raise InvalidOptionsError("the processor must be a function or 'pkg.module:function'")
    mod = getattr(target, "__module__", None)
    qual = getattr(target, "__qualname__", None)
    if not isinstance(mod, str) or not isinstance(qual, str) or "<" in qual:
        raise InvalidOptionsError(
            f"{target!r} cannot run in a child process: it must be an importable top-level "
            "function (not a lambda, closure or method); or pass 'pkg.module:function'")
    path = f"{mod}:{qual}"
    if import_target(path) is not target:
        raise InvalidOptionsError(
            f"{target!r} cannot run in a child process: importing {path} gives another object")
    return path


def import_target(path: str) -> Callable[..., Any]:
    """Import "pkg.module:function"; any failure is an ``InvalidOptionsError`` that says so."""
    module_name, _, qualname = target_path(path).partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        raise InvalidOptionsError(f"cannot import {path}: {type(exc).__name__}: {exc}") from exc
    if not callable(obj):
        raise InvalidOptionsError(f"cannot import {path}: it is not callable")
    return obj  # type: ignore[no-any-return]

