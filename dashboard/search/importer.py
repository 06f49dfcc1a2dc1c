"""Read an uploaded NDJSON file into jobs to add: every line checked, every problem listed
with its line number, nothing written unless the whole file is good (a dry run writes
nothing at all). Lines are exports (``exporter``) or anything with a name, data and opts;
other fields are ignored."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from dashboard.search.jobcopy import add_options
from queuecore import InvalidOptionsError, Queue, validate_job_options

MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_IMPORT_LINES = 100_000
#: A job's data as JSON, as queuecore's default ``max_data_size``.
MAX_DATA_BYTES = 512 * 1024
MAX_NAME_CHARS = 1024
#: Errors listed on the page at most (the count says how many there were).
MAX_LISTED_ERRORS = 50
SAMPLE_SIZE = 5
CHUNK = 500
KNOWN_FIELDS = frozenset({"name", "data", "opts"})


@dataclass(slots=True)
class ImportPlan:
    entries: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0
    lines: int = 0
    ignored_fields: Counter[str] = field(default_factory=Counter)
    dropped_options: Counter[str] = field(default_factory=Counter)
    names: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.error_count and bool(self.entries)

    # Lists for templates (a template reading ``counter.most_common`` gets a count of 0).
    @property
    def top_names(self) -> list[tuple[str, int]]:
        return self.names.most_common(10)

    @property
    def ignored_list(self) -> list[str]:
        return [k for k, _ in self.ignored_fields.most_common(20)]

    @property
    def dropped_list(self) -> list[str]:
        return [k for k, _ in self.dropped_options.most_common(20)]

    @property
    def sample(self) -> list[str]:
        return [json.dumps(e, ensure_ascii=False)[:500] for e in self.entries[:SAMPLE_SIZE]]

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append((line, message))


def _entry(plan: ImportPlan, number: int, text: str) -> dict[str, Any] | None:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        plan.error(number, _("not JSON: %(error)s at column %(column)d")
                   % {"error": exc.msg[:200], "column": exc.colno})
        return None
    except (ValueError, RecursionError) as exc:
        plan.error(number, _("not JSON: %(error)s") % {"error": str(exc)[:200]})
        return None
    if not isinstance(record, dict):
        plan.error(number, _("not a JSON object"))
        return None
    name, data, opts = record.get("name"), record.get("data", {}), record.get("opts") or {}
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
        plan.error(number, _("“name” must be a text of 1 to %(n)d characters")
                   % {"n": MAX_NAME_CHARS})
        return None
    if len(json.dumps(data, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
        plan.error(number, _("“data” is larger than %(n)d bytes") % {"n": MAX_DATA_BYTES})
        return None
    if not isinstance(opts, dict):
        plan.error(number, _("“opts” must be a JSON object"))
        return None
    options, dropped = add_options(opts)
    try:
        validate_job_options(options)
    except InvalidOptionsError as exc:
        plan.error(number, _("“opts” are not valid: %(error)s") % {"error": str(exc)[:200]})
        return None
    plan.ignored_fields.update(k for k in record if k not in KNOWN_FIELDS)
    plan.dropped_options.update(dropped)
    plan.names[name] += 1
    return {"name": name, "data": data, "opts": options}


def plan_import(content: bytes) -> ImportPlan:
    """Check every line of an upload (at most ``MAX_IMPORT_BYTES``, checked by the caller
    before reading it whole)."""
    plan = ImportPlan()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        plan.error(0, _("the file is not UTF-8 text (byte %(at)d)") % {"at": exc.start})
        return plan
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        plan.lines += 1
        if plan.lines > MAX_IMPORT_LINES:
            plan.error(number, _("more than %(n)d jobs in one file") % {"n": MAX_IMPORT_LINES})
            break
        entry = _entry(plan, number, line)
        if entry is not None:
            plan.entries.append(entry)
    if not plan.lines:
        plan.error(0, _("the file holds no jobs"))
    return plan


def apply_import(queue: Queue, plan: ImportPlan) -> list[str]:
    """Add the planned jobs, ``CHUNK`` per script call; returns their ids (an entry whose
    ``job_id`` exists already in the queue gives the existing job, as ``add`` does)."""
    if not plan.ok:
        raise ValueError("an import with errors is not written")
    ids: list[str] = []
    for start in range(0, len(plan.entries), CHUNK):
        chunk: Any = plan.entries[start:start + CHUNK]
        ids += [job.id for job in queue.add_bulk(chunk)]
    return ids
