"""Tags of the controls' partials (the "why" panels), so that the job and queue pages hook
them in with one ``{% include %}`` and their views stay as they are."""

from __future__ import annotations

from django import template

from dashboard.services import why

register = template.Library()


@register.simple_tag
def why_job(connection: str, queue: str, job_id: str) -> why.Why:
    return why.why_job(connection, queue, job_id)


@register.simple_tag
def why_queue(connection: str, queue: str) -> why.Why:
    return why.why_queue(connection, queue)
