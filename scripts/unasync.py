"""Generate queuecore's blocking faces from their asyncio sources, as httpcore does.

The asyncio module is the one written by hand; its blocking twin is derived from it line by
line: ``async def``/``async with``/``async for`` lose ``async``, ``await`` goes, and the
names in ``RENAMES`` (whole words, in code and prose alike) and the phrases in ``PHRASES``
take their blocking form. Where the faces really differ, the source says so:

- a line ending in ``# unasync: async-only`` is left out of the blocking face;
- between ``# unasync: async-only`` and ``# unasync: end`` lines are left out;
- between ``# unasync: sync-only`` and ``# unasync: end`` lines are commented out in the
  source and uncommented in the blocking face (ruff and mypy check them there); an
  ``async-only`` block may go straight on into a ``sync-only`` one, as ``if``/``else``.

Usage (from the repository root)::

    python scripts/unasync.py          # rewrite the generated modules
    python scripts/unasync.py --check  # exit 1, naming them, when one is not current

tests/test_unasync.py runs the check.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (asyncio source, generated blocking module), relative to the repository root.
PAIRS: tuple[tuple[str, str], ...] = (
    ("queuecore/client/ajob.py", "queuecore/client/job.py"),
    ("queuecore/client/aqueue.py", "queuecore/client/queue.py"),
    ("queuecore/client/aqueries.py", "queuecore/client/queries.py"),
    ("queuecore/flows/aproducer.py", "queuecore/flows/producer.py"),
    ("queuecore/observe/adiscovery.py", "queuecore/observe/discovery.py"),
    ("queuecore/client/atriage.py", "queuecore/client/triage.py"),
)

#: asyncio name -> blocking name, replaced as whole words.
RENAMES: dict[str, str] = {
    "AsyncFlowProducer": "FlowProducer",
    "AsyncJob": "Job",
    "AsyncJobQueue": "JobQueue",
    "AsyncQueue": "Queue",
    "AsyncQueueReads": "QueueReads",
    "AsyncRunner": "SyncRunner",
    "AsyncTriage": "Triage",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "aclose": "close",
    "adiscovery": "discovery",
    "ajob": "job",
    "ajob_result": "job_result",
    "alist_queues": "list_queues",
    "arun_plan": "run_plan",
    "aproducer": "producer",
    "aqueue": "queue",
    "aqueries": "queries",
    "atriage": "triage",
    "async_client": "sync_client",
}

#: Prose of docstrings and comments: (regular expression, replacement), applied first.
PHRASES: tuple[tuple[str, str], ...] = (
    (r"\b([Aa])n (``)?(?=Async[A-Z])", r"\1 \2"),  # "an ``AsyncQueue``" -> "a ``Queue``"
    (r"\bThe asyncio\b", "The blocking"),
    (r"\basyncio code\b", "blocking code"),
    (r"\bcoroutine methods\b", "blocking methods"),
    (r"\bChannels consumers and asyncio programs\b", "Django views, scripts and threads"),
)

_KEYWORDS = re.compile(r"\basync (?=def |with |for )|\bawait ")
_WORDS = re.compile(r"\b(" + "|".join(sorted(RENAMES, key=len, reverse=True)) + r")\b")
_PHRASES = tuple((re.compile(pattern), repl) for pattern, repl in PHRASES)
_DIRECTIVE = re.compile(r"^\s*# unasync: (async-only|sync-only|end)\s*$")
_LINE_MARK = "  # unasync: async-only"
_NESTED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}")


def header(source: str) -> str:
    return (f"# Generated from {source} by scripts/unasync.py: do not edit.\n"
            "# Change the asyncio source and run `python scripts/unasync.py`.\n")


def _unwrap_awaits(line: str) -> str:
    """``(await x.f(...))[0]`` -> ``x.f(...)[0]``: the brackets were there for ``await`` only
    (dropped where what is awaited is a single call or name, never an operation)."""
    start = line.find("(await ")
    while start >= 0:
        depth, end = 0, start
        for end in range(start, len(line)):
            if line[end] in "([{":
                depth += 1
            elif line[end] in ")]}":
                depth -= 1
                if depth == 0:
                    break
        inner = top = line[start + len("(await "):end]
        while (reduced := _NESTED.sub("", top)) != top:  # what is left outside any bracket
            top = reduced
        grouping = start == 0 or not re.match(r"[\w)\]]", line[start - 1])  # not a call's
        if depth == 0 and grouping and re.fullmatch(r"[\w.]+", top):
            line = f"{line[:start]}{inner}{line[end + 1:]}"
        start = line.find("(await ", start + 1)
    return line


def _translate(line: str) -> str:
    for pattern, repl in _PHRASES:
        line = pattern.sub(repl, line)
    line = _unwrap_awaits(line)
    line = _KEYWORDS.sub("", line)
    return _WORDS.sub(lambda m: RENAMES[m[1]], line)


def _uncomment(line: str, where: str) -> str:
    stripped = line.lstrip(" ")
    indent = line[: len(line) - len(stripped)]
    if stripped in ("#", "#\n"):
        return "\n"
    if not stripped.startswith("# "):
        raise ValueError(f"{where}: a sync-only line must be a comment: {line!r}")
    return indent + stripped[2:]


def unasync(text: str, source: str) -> str:
    """The blocking module generated from the asyncio module ``text`` (from ``source``)."""
    lines: list[str] = []
    origins: list[int | None] = []  # the source line of each generated one (None: sync-only)
    block: str | None = None
    dropped = False
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        where = f"{source}:{number}"
        directive = _DIRECTIVE.match(line)
        if directive:
            kind = directive[1]
            if block == kind or (kind == "end" and block is None):
                raise ValueError(f"{where}: unbalanced '# unasync: {kind}'")
            block = None if kind == "end" else kind
            dropped = True
            continue
        if block == "async-only" or line.rstrip("\n").endswith(_LINE_MARK):
            dropped = True
            continue
        if dropped and not line.strip() and lines and not lines[-1].strip():
            continue  # a block left out between blank lines leaves one, not two
        dropped = False
        if block == "sync-only":
            lines.append(_translate(_uncomment(line, where)))
            origins.append(None)
        else:
            lines.append(_translate(line))
            origins.append(number)
    if block is not None:
        raise ValueError(f"{source}: '# unasync: {block}' is never ended")
    return header(source) + "".join(_realign(text, lines, origins))


Bracket = tuple[int, bool]  # column, opening


def _scan(text: str) -> tuple[dict[int, list[Bracket]], set[int]]:
    """The brackets of each line (1-based) and the lines a multi-line string goes on into."""
    brackets: dict[int, list[Bracket]] = {}
    inside: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.OP and tok.string in "([{)]}":
            brackets.setdefault(tok.start[0], []).append((tok.start[1], tok.string in "([{"))
        elif tok.start[0] != tok.end[0]:
            inside.update(range(tok.start[0] + 1, tok.end[0] + 1))
    return brackets, inside


def _realign(text: str, lines: list[str], origins: list[int | None]) -> list[str]:
    """Continuation lines that the source aligned with an open bracket, aligned with it again
    where the line that opened it got shorter (``async def`` -> ``def``, ``AsyncJob`` ->
    ``Job``...)."""
    src_brackets, _ = _scan(text)
    out_brackets, in_string = _scan("".join(lines))
    shift: dict[int, int] = {}
    stack: list[tuple[int, int]] = []  # open brackets: (generated line, index on that line)
    for row, line in enumerate(lines, 1):
        origin = origins[row - 1]
        if stack and origin is not None and row not in in_string:
            open_row, index = stack[-1]
            open_origin = origins[open_row - 1]
            if open_origin is not None:
                source_col = src_brackets[open_origin][index][0]
                source_line = text.splitlines()[origin - 1]
                lead = len(line) - len(line.lstrip(" "))
                if len(source_line) - len(source_line.lstrip(" ")) == source_col + 1:
                    new_lead = out_brackets[open_row][index][0] + shift.get(open_row, 0) + 1
                    shift[row] = new_lead - lead
                    lines[row - 1] = " " * new_lead + line[lead:]
        for index, (_col, opening) in enumerate(out_brackets.get(row, [])):
            if opening:
                stack.append((row, index))
            elif stack:
                stack.pop()
    return lines


def generated() -> dict[str, str]:
    """Each generated module's path (relative to the root) and the text it must have."""
    return {target: unasync((ROOT / source).read_text(), source) for source, target in PAIRS}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for target, text in generated().items():
        path = ROOT / target
        if path.exists() and path.read_text() == text:
            continue
        stale.append(target)
        if not check:
            path.write_text(text)
    if check and stale:
        print("not current (run python scripts/unasync.py):", ", ".join(stale))
        return 1
    for target in stale:
        print("generated", target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
