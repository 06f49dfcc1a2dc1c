"""Which queues a rule covers: those its pattern names that its owner may view now.

A rule's details, history and deliveries (email, webhook bodies) carry queue names and
figures, so a rule never reports a queue its owner could not open in the dashboard. The owner
is whoever last saved the rule (creation and edits check that person's permissions on the
rule's queues); the evaluator checks again on every round, so a rule whose owner lost access
or was deleted covers nothing and says so (``AlertRule.coverage``).
"""

from __future__ import annotations

from dashboard import permissions
from dashboard.alerts.models import AlertRule, Webhook


def owner_may_view(rule: AlertRule, connection: str, queue: str) -> bool:
    """True when the rule's owner may view ``queue`` now (False without an owner)."""
    owner = rule.owner
    return owner is not None and permissions.can(owner, "view", connection, queue)


def changer_may_view(rule: AlertRule, webhook: Webhook, connection: str, queue: str) -> bool:
    """False when ``webhook`` was last saved by someone other than the rule's owner who may
    not view ``queue``: they chose where it sends, so it must not carry that queue's alerts
    (one not saved since it had a ``changed_by``, or whose editor was deleted, is not held)."""
    changer = webhook.changed_by
    if changer is None or changer.pk == rule.owner_id:
        return True
    return permissions.can(changer, "view", connection, queue)


def visible(rule: AlertRule, connection: str, names: list[str]) -> list[str]:
    """The queues of ``names`` the rule's owner may view now, in order."""
    owner = rule.owner
    if owner is None or not permissions.can(owner, "view"):
        return []
    return [n for n in names if permissions.can(owner, "view", connection, n)]


def problem(rule: AlertRule, matched: list[str], covered: list[str]) -> str:
    """The rule's ``coverage`` after an evaluation: why it covers nothing, or blank. A pattern
    that matches no queue yet is not a problem; one whose every match is hidden is."""
    if rule.owner_id is None:
        return AlertRule.Coverage.NO_OWNER
    if matched and not covered:
        return AlertRule.Coverage.NO_ACCESS
    return ""


def record(rule: AlertRule, coverage: str) -> None:
    """Store the rule's coverage when it changed (an UPDATE of that column alone, so a user's
    edit made meanwhile is kept)."""
    if rule.coverage != coverage:
        AlertRule.objects.filter(pk=rule.pk).update(coverage=coverage)
        rule.coverage = coverage
