"""Editing jobs from the dashboard (the ``edit`` permission): the add form, what a duplicate
is prefilled with, and the checked priority and delay changes.

Job data comes from a textarea: it must be JSON and at most the queue's ``max_data_size``
bytes once serialised (queuecore's own limit, so a form never writes what ``Queue.add``
would refuse). Options are a small form, checked here and again by queuecore.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dashboard import connections
from queuecore import InvalidOptionsError, Job, JobNotFoundError, JobOptionsDict, Queue

#: BullMQ's largest priority number (queuecore refuses more too).
MAX_PRIORITY = 2**21 - 1
#: The same cap as ``Queue.add`` (longer names are refused there too).
MAX_NAME_CHARS = 1024
BACKOFF_TYPES = (("", gettext_lazy("none")), ("fixed", gettext_lazy("fixed")),
                 ("exponential", gettext_lazy("exponential")))


def _no_constant(name: str) -> Any:
    raise ValueError(_("%(name)s is not a JSON value") % {"name": name})


def data_limit(queue: Queue) -> int | None:
    return queue.max_data_size


class AddJobForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=MAX_NAME_CHARS,
                           strip=False)
    job_data = forms.CharField(label=gettext_lazy("Data (JSON)"), required=False, strip=False,
                           widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}))
    priority = forms.IntegerField(label=gettext_lazy("Priority"), required=False,
                                  min_value=0, max_value=MAX_PRIORITY,
                                  help_text=gettext_lazy("0: none; 1 is the highest"))
    delay = forms.IntegerField(label=gettext_lazy("Delay (ms)"), required=False,
                               min_value=0, max_value=10 * 365 * 86_400_000)
    attempts = forms.IntegerField(label=gettext_lazy("Attempts"), required=False,
                                  min_value=1, max_value=1_000_000)
    backoff_type = forms.ChoiceField(label=gettext_lazy("Backoff"), required=False,
                                     choices=BACKOFF_TYPES)
    backoff_delay = forms.IntegerField(label=gettext_lazy("Backoff delay (ms)"),
                                       required=False, min_value=0,
                                       max_value=365 * 86_400_000)

    def __init__(self, *args: Any, limit: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = limit
        if limit is not None:
            self.fields["job_data"].help_text = _("JSON, at most %(size)s bytes; empty for "
                                              "null.") % {"size": f"{limit:,}"}

    def clean_job_data(self) -> Any:
        text = self.cleaned_data.get("job_data") or ""
        if not text.strip():
            return None
        try:
            value = json.loads(text, parse_constant=_no_constant)
        except RecursionError as exc:  # "[[[[..." deeper than the parser goes: bad input too
            raise forms.ValidationError(_("Not valid JSON: nested too deeply.")) from exc
        except ValueError as exc:
            if not isinstance(exc, json.JSONDecodeError):
                raise forms.ValidationError(_("Not valid JSON: %(error)s.") % {
                    "error": exc}) from exc
            raise forms.ValidationError(
                _("Not valid JSON: %(error)s (line %(line)d, column %(column)d).")
                % {"error": exc.msg, "line": exc.lineno, "column": exc.colno}) from exc
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if self.limit is not None and size > self.limit:
            raise forms.ValidationError(
                _("The data is %(size)s bytes as JSON; this queue takes at most %(limit)s.")
                % {"size": f"{size:,}", "limit": f"{self.limit:,}"})
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind, delay = cleaned.get("backoff_type"), cleaned.get("backoff_delay")
        if kind and delay is None:
            self.add_error("backoff_delay", _("A backoff needs a delay."))
        if delay is not None and not kind:
            self.add_error("backoff_type", _("Choose a backoff type for the delay."))
        return cleaned

    def options(self) -> JobOptionsDict:
        c = self.cleaned_data
        opts: JobOptionsDict = {}
        if c.get("priority"):
            opts["priority"] = c["priority"]
        if c.get("delay"):
            opts["delay"] = c["delay"]
        if c.get("attempts"):
            opts["attempts"] = c["attempts"]
        if c.get("backoff_type"):
            opts["backoff"] = {"type": c["backoff_type"], "delay": c["backoff_delay"]}
        return opts


def duplicate_initial(job: Job) -> dict[str, Any]:
    """The add form prefilled from an existing job: its name, data and options."""
    opts = job.opts if isinstance(job.opts, dict) else {}
    backoff = opts.get("backoff")
    initial: dict[str, Any] = {
        "name": job.name,
        "job_data": json.dumps(job.data, indent=2, ensure_ascii=False),
        "priority": opts.get("priority") or None,
        "delay": opts.get("delay") or None,
        "attempts": opts.get("attempts") or None,
    }
    if isinstance(backoff, dict) and backoff.get("type") in ("fixed", "exponential"):
        initial["backoff_type"] = backoff["type"]
        initial["backoff_delay"] = backoff.get("delay")
    elif isinstance(backoff, int) and not isinstance(backoff, bool):
        initial.update(backoff_type="fixed", backoff_delay=backoff)
    return initial


def add_job(connection: str, queue: str, form: AddJobForm) -> Job:
    c = form.cleaned_data
    return connections.get_queue(connection, queue).add(c["name"], c["job_data"], **form.options())


def _number(raw: str | None, what: str, low: int, high: int) -> int:
    try:
        value = int(raw or "")
    except ValueError:
        raise InvalidOptionsError(_("%(what)s must be a whole number.") % {"what": what}) from None
    if not low <= value <= high:
        raise InvalidOptionsError(_("%(what)s must be between %(low)d and %(high)d.")
                                  % {"what": what, "low": low, "high": high})
    return value


def _job(connection: str, queue: str, job_id: str) -> Job:
    job = connections.get_queue(connection, queue).get_job(job_id)
    if job is None:
        raise JobNotFoundError(f"job {job_id} not found", job_id=job_id)
    return job


def change_priority(connection: str, queue: str, job_id: str, raw: str | None) -> str:
    priority = _number(raw, _("Priority"), 0, MAX_PRIORITY)
    _job(connection, queue, job_id).change_priority(priority)
    return _("Job %(id)s now has priority %(priority)d.") % {"id": job_id, "priority": priority}


def change_delay(connection: str, queue: str, job_id: str, raw: str | None) -> str:
    delay = _number(raw, _("Delay"), 0, 10 * 365 * 86_400_000)
    _job(connection, queue, job_id).change_delay(delay)
    return _("Job %(id)s now runs %(delay)d ms from now.") % {"id": job_id, "delay": delay}
