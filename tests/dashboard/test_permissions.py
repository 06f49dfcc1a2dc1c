from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User

from dashboard.permissions import ACTION_PERMISSIONS, allowed_actions, can

pytestmark = pytest.mark.django_db


def test_anonymous_and_non_staff_see_nothing(make_user: Callable[..., User]) -> None:
    assert not can(AnonymousUser(), "view")
    assert not can(make_user("view", staff=False), "view")


def test_view_and_manage_are_separate(make_user: Callable[..., User]) -> None:
    viewer = make_user("view")
    assert can(viewer, "view", "default", "emails")
    assert not can(viewer, "retry", "default", "emails")
    retrier = make_user("view", "retry")
    assert can(retrier, "retry", "default", "emails")
    assert not can(retrier, "obliterate", "default", "emails")
    # An action permission without the view permission is not enough.
    assert not can(make_user("retry"), "retry", "default", "emails")


def test_superuser_has_everything(make_user: Callable[..., User]) -> None:
    assert allowed_actions(make_user(superuser=True), "default", "emails") == set(
        ACTION_PERMISSIONS
    )


def test_read_only_refuses_every_action(make_user: Callable[..., User], settings: Any) -> None:
    settings.QUEUE_DASHBOARD = {"READ_ONLY": True}
    boss = make_user(superuser=True)
    assert can(boss, "view", "default", "emails")
    assert allowed_actions(boss, "default", "emails") == {"view"}


def test_queue_rules_by_group(make_user: Callable[..., User], settings: Any) -> None:
    settings.QUEUE_DASHBOARD = {
        "QUEUE_RULES": {
            "default:payments*": {"view": ["finance"], "manage": ["finance-ops"]},
            "*:reports": {"obliterate": ["nobody"]},
        }
    }
    everyone = [*ACTION_PERMISSIONS]
    outsider = make_user(*everyone)
    finance = make_user(*everyone, groups=("finance",))
    ops = make_user(*everyone, groups=("finance-ops",))
    assert can(outsider, "view", "default", "emails")
    assert not can(outsider, "view", "default", "payments-eu")
    assert can(finance, "view", "default", "payments-eu")
    assert not can(finance, "retry", "default", "payments-eu")
    assert can(ops, "view", "default", "payments-eu")  # manage implies view
    assert can(ops, "retry", "default", "payments-eu")
    assert can(outsider, "retry", "default", "reports")
    assert not can(outsider, "obliterate", "other", "reports")
    assert can(make_user(superuser=True), "obliterate", "other", "reports")


def test_unknown_action() -> None:
    with pytest.raises(ValueError, match="unknown"):
        can(AnonymousUser(), "explode")
