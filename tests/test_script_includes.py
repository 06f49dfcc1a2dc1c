"""Included definitions a script never uses are left out of it (Redis runs the whole body on
every call); everything it uses, directly or through another definition, stays."""

from __future__ import annotations

import re

import redis

from queuecore.commands.scripts import _read, _resolve, _without_unused, get_script, script_names

SOURCE = '''local rcall = redis.call
local function used(x)
  if x then
    return helper(x)
  end
end
local function helper(x)
  return x
end
local function unused(y)
  return only_from_unused(y)
end
local function only_from_unused(y)
  return y
end
local function named_in_a_comment()
end
local TABLE = {
  a = 1,
}
local function odd_shape()
local y = 1
  return y
end
local function plain_shape()
  return 1
end -- closes it
-- named_in_a_comment stays: any mention keeps a name
return used(1)
'''


def test_unused_definitions_go_and_used_ones_stay() -> None:
    out = _without_unused(SOURCE)
    for kept in ("local function used", "local function helper", "named_in_a_comment()",
                 "local function odd_shape", "local rcall"):
        assert kept in out
    for gone in ("local function unused", "local function only_from_unused", "local TABLE",
                 "plain_shape"):
        assert gone not in out
    assert _without_unused(out) == out


def test_every_script_loads_and_keeps_what_it_calls(r: redis.Redis) -> None:
    for name in script_names():
        full = _resolve(_read(f"{name}.lua"), set())
        script = get_script(name)
        assert r.script_load(script.source) == script.sha
        defined = set(re.findall(r"^local function (\w+)\(", full, re.MULTILINE))
        kept = set(re.findall(r"^local function (\w+)\(", script.source, re.MULTILINE))
        for fn in defined - kept:  # what went is never mentioned in what stayed
            assert not re.search(rf"\b{fn}\b", script.source), (name, fn)
        for fn in kept:
            assert len(re.findall(rf"\b{fn}\b", script.source)) > 1, (name, fn)
