"""Access over HTTP: every route of ``dashboard.urls``, as enumerated by Django's
URL resolver, against every role, on both mounts (the include and the admin). Each route
declares what each role gets; a route nobody declared fails. A refused request must also
leave Redis untouched, and a refused action is audited."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import get_resolver

from dashboard.models import AuditLog
from dashboard.urls import build_urlpatterns
from queuecore import Queue
from tests.dashboard.alerts.objects import seed_alert_objects
from tests.dashboard.conftest import MOUNT
from tests.dashboard.security.conftest import (
    ADMIN_MOUNT,
    ALL_ACTIONS,
    ROLES,
    check_csp,
    make_role,
    redis_fingerprint,
)

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(30)]

# Outcomes: "200", "403", "404", "login" (a redirect to a login page), "go" (a redirect
# elsewhere: an action done or refused by queuecore, or the jump to a job).
PUBLIC = dict.fromkeys(ROLES, "200")
VIEW_PAGE = {
    "anonymous": "login",
    "nonstaff": "403",
    "staff": "403",
    "view": "200",
    "manage": "200",
    "superuser": "200",
    "manage_no_view": "403",
}
TOKEN_OR_VIEW = {**VIEW_PAGE, "anonymous": "403"}
VIEW_JUMP = {role: ("go" if outcome == "200" else outcome) for role, outcome in VIEW_PAGE.items()}
MANAGE_PAGE = {**VIEW_PAGE, "view": "403"}
MANAGE_POST = {**MANAGE_PAGE, "anonymous": "403", "manage": "go", "superuser": "go"}
#: Webhook 1 is used by a rule of no one's (tests/dashboard/alerts/objects.py): only a
#: superuser may change a webhook that rules of other people send to.
SHARED_WEBHOOK = {**MANAGE_PAGE, "manage": "403"}


@dataclass(frozen=True)
class Case:
    """One request to a route, and the outcome each role must get."""

    id: str
    method: str
    kwargs: dict[str, str]
    expect: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)


Q = {"connection": "default", "queue": "emails"}
JOB = {**Q, "job_id": "1"}
QUEUE_ACTIONS = ("retry-all", "promote-all", "clean", "pause", "resume", "drain", "obliterate")
CONFIRMED = ("retry-all", "promote-all", "clean", "drain", "obliterate")

#: route name -> its cases. Adding a route to dashboard.urls without a line here fails.
DECLARED: dict[str, list[Case]] = {
    "overview": [Case("overview", "GET", {}, VIEW_PAGE)],
    "live-help": [Case("live-help", "GET", {}, VIEW_PAGE)],
    "health": [Case("health", "GET", {}, PUBLIC)],
    "metrics": [Case("metrics", "GET", {}, TOKEN_OR_VIEW)],
    "workers": [Case("workers", "GET", {"connection": "default"}, VIEW_PAGE)],
    "redis": [Case("redis", "GET", {"connection": "default"}, VIEW_PAGE)],
    "history": [Case("history", "GET", {"connection": "default"}, VIEW_PAGE)],
    "queue-history": [Case("queue-history", "GET", Q, VIEW_PAGE, query={"range": "24h"})],
    "queue": [Case("queue", "GET", Q, VIEW_PAGE, query={"state": "failed"})],
    "jump": [Case("jump", "GET", Q, VIEW_JUMP, query={"id": "1"})],
    "schedulers": [Case("schedulers", "GET", Q, VIEW_PAGE)],
    "job": [Case("job", "GET", JOB, VIEW_PAGE)],
    "confirm": [
        Case(f"confirm:{a}", "GET", {**Q, "action": a}, MANAGE_PAGE) for a in CONFIRMED
    ],
    "queue-action": [
        Case(f"queue-action:{a}", "POST", {**Q, "action": a}, MANAGE_POST,
             data={"age": "0", "unit": "s", "confirm_name": "emails"})
        for a in QUEUE_ACTIONS
    ],
    "job-action": [
        Case(f"job-action:{a}", "POST", {**JOB, "action": a}, MANAGE_POST)
        for a in ("retry", "remove", "promote")
    ],
    "remove-scheduler": [
        Case("remove-scheduler", "POST", Q, MANAGE_POST, data={"id": "nightly"})
    ],
    # The add form (its POST, to the same URL, is checked in tests/dashboard/test_edit_jobs.py:
    # a route serving GET too is no "refusing GET" POST here).
    "add-job": [Case("add-job", "GET", Q, MANAGE_PAGE, query={"from": "1"})],
    "job-edit": [
        Case("job-edit:priority", "POST", {**JOB, "what": "priority"}, MANAGE_POST,
             data={"priority": "2"}),
        Case("job-edit:delay", "POST", {**JOB, "what": "delay"}, MANAGE_POST,
             data={"delay": "1000"}),
    ],
    # Alerts (the objects with id 1: tests/dashboard/alerts/objects.py).
    "alerts": [Case("alerts", "GET", {}, VIEW_PAGE)],
    "alerts-active": [Case("alerts-active", "GET", {}, VIEW_PAGE)],
    "alerts-banner": [Case("alerts-banner", "GET", {}, VIEW_PAGE)],
    "alert": [Case("alert", "GET", {"pk": "1"}, VIEW_PAGE)],
    "alert-acknowledge": [Case("alert-acknowledge", "POST", {"pk": "1"}, MANAGE_POST)],
    "alert-silence": [
        Case("alert-silence", "POST", {"pk": "1"}, MANAGE_POST, data={"seconds": "3600"})
    ],
    "alert-rule-new": [Case("alert-rule-new", "GET", {}, MANAGE_PAGE)],
    "alert-rule-edit": [Case("alert-rule-edit", "GET", {"pk": "1"}, MANAGE_PAGE)],
    "alert-rule-delete": [Case("alert-rule-delete", "GET", {"pk": "1"}, MANAGE_PAGE)],
    "alert-webhook-new": [Case("alert-webhook-new", "GET", {}, MANAGE_PAGE)],
    "alert-webhook-edit": [Case("alert-webhook-edit", "GET", {"pk": "1"}, SHARED_WEBHOOK)],
    "alert-webhook-delete": [Case("alert-webhook-delete", "GET", {"pk": "1"},
                                  SHARED_WEBHOOK)],
    "failures": [Case("failures", "GET", Q, VIEW_PAGE)],
    "bulk-confirm": [
        Case(f"bulk-confirm:{a}", "GET", {**Q, "action": a}, MANAGE_PAGE,
             query={"source": "state", "state": "waiting"})
        for a in ("retry", "remove", "promote", "priority")
    ],
    "bulk-run": [
        Case(f"bulk-run:{a}", "POST", {**Q, "action": a}, MANAGE_POST,
             data={"token": "e" * 32, "source": "ids", "ids": "1", "priority": "3"})
        for a in ("retry", "remove", "promote", "priority")
    ],
    # No such operation in this data: who may look is told 404 (a POST is sent back to the
    # queue, "not known any more"), the others 403 (audited).
    "bulk-op": [Case("bulk-op", "GET", {**Q, "op_id": "e" * 32},
                     {**VIEW_PAGE, "view": "404", "manage": "404", "superuser": "404"})],
    "bulk-op-action": [
        Case(f"bulk-op-action:{v}", "POST", {**Q, "op_id": "e" * 32, "verb": v},
             {**MANAGE_POST, "view": "go"})
        for v in ("cancel", "undo")
    ],
    "search": [Case("search", "GET", Q, VIEW_PAGE, query={"q": "first", "state": "waiting"})],
    "search-export": [Case("search-export", "GET", Q, MANAGE_PAGE, query={"q": "first"})],
    "import": [Case("import", "GET", Q, VIEW_PAGE)],
    # Without a file: a message, nothing written.
    "import-run": [Case("import-run", "POST", Q, MANAGE_POST, data={"mode": "dry-run"})],
    "transfer": [Case("transfer", "GET", Q, VIEW_PAGE, query={"q": "first"})],
    # A move (remove on the source too) of a job that does not exist: nothing written.
    "transfer-run": [Case("transfer-run", "POST", Q, MANAGE_POST,
                          data={"ids": "nope", "target": "archive", "mode": "move"})],
}


def route_names() -> list[str]:
    return [p.name for p in get_resolver("dashboard.urls").url_patterns]


@cache
def _admin_wrapped() -> frozenset[str]:
    """Routes the admin mount wraps in ``admin_view`` (anonymous and non-staff: its login)."""
    marked: set[int] = set()

    def mark(view: Any) -> Any:
        marked.add(id(view))
        return view

    return frozenset(p.name for p in build_urlpatterns(mark) if id(p.callback) in marked)


def _cases() -> list[Any]:
    out = []
    for name in route_names():
        for case in DECLARED.get(name) or [None]:
            for mount in ("include", "admin"):
                for role in ROLES:
                    label = case.id if case else f"{name}:UNDECLARED"
                    out.append(pytest.param(name, case, mount, role, id=f"{mount}-{label}-{role}"))
    return out


def expected(name: str, case: Case, mount: str, role: str) -> str:
    outcome = case.expect[role]
    if mount == "admin" and name in _admin_wrapped() and role in ("anonymous", "nonstaff"):
        return "login"
    return outcome


def url_of(name: str, case: Case, mount: str) -> str:
    from django.urls import reverse

    ns = "queue_dashboard" if mount == "include" else "admin:queue_dashboard_admin"
    return reverse(f"{ns}:{name}", kwargs=case.kwargs)


def outcome_of(response: Any) -> str:
    if response.status_code in (301, 302, 303):
        location = response["Location"]
        return "login" if "login" in location else "go"
    return str(response.status_code)


@pytest.fixture
def data(dash_redis: str) -> Any:
    queue = Queue("emails", connection=dash_redis)
    queue.add("first", {"n": 1})  # id 1, waiting
    queue.add("later", {"n": 2}, delay=3_600_000)
    seed_alert_objects()
    yield queue
    queue.close()


def test_every_route_is_declared_and_nothing_stale() -> None:
    names = route_names()
    assert len(names) == len(set(names)), "two routes share a name"
    assert set(names) - set(DECLARED) == set(), "routes without a declared permission"
    assert set(DECLARED) - set(names) == set(), "declarations of routes that do not exist"
    assert MOUNT.startswith("/") and ADMIN_MOUNT.startswith("/")


@pytest.mark.parametrize(("name", "case", "mount", "role"), _cases())
def test_route_authorization(
    name: str,
    case: Case | None,
    mount: str,
    role: str,
    data: Any,
    dash_redis: str,
    make_user: Callable[..., User],
) -> None:
    if case is None:
        pytest.fail(f"route {name!r} has no declared permission in DECLARED")
    client = Client()
    user = make_role(make_user, role)
    if user is not None:
        client.force_login(user)
    url = url_of(name, case, mount)
    want = expected(name, case, mount, role)
    before = redis_fingerprint(dash_redis)
    denied_before = AuditLog.objects.filter(outcome="denied").count()
    send = client.get if case.method == "GET" else client.post
    response = send(url, case.query if case.method == "GET" else case.data)
    got = outcome_of(response)
    assert got == want, f"{case.method} {url} as {role}: got {got}, declared {want}"
    if got == "200":
        check_csp(response)
    if want == "go" and name == "jump":
        assert response["Location"].endswith("/jobs/1/")
    if case.method == "GET" or want != "go":
        assert redis_fingerprint(dash_redis) == before, "a GET or a refused request wrote"
    if case.method == "POST" and want == "403" and user is not None:
        assert AuditLog.objects.filter(outcome="denied").count() == denied_before + 1


# -- groups per queue (QUEUE_RULES) -------------------------------------------------------

RULE_ROLES = {
    # role: (groups, permissions, what it gets: the plain role whose row applies)
    "outsider": ((), "manage", None),
    "rule_viewer": (("mail",), "manage", "view"),
    "rule_ops": (("mail-ops",), "manage", "manage"),
}


def _scoped_cases() -> list[Any]:
    return [
        pytest.param(name, case, role, id=f"{case.id}-{role}")
        for name in route_names()
        for case in DECLARED.get(name, [])
        if "queue" in case.kwargs
        for role in RULE_ROLES
    ]


@pytest.mark.parametrize(("name", "case", "role"), _scoped_cases())
def test_queue_rules_apply_to_every_scoped_route(
    name: str, case: Case, role: str, data: Any, dash_redis: str, settings: Any,
    make_user: Callable[..., User],
) -> None:
    """A rule on ``default:emails`` admits only its groups, whatever their permissions."""
    settings.QUEUE_DASHBOARD = {
        **settings.QUEUE_DASHBOARD,
        "QUEUE_RULES": {"default:emails": {"view": ["mail"], "manage": ["mail-ops"]}},
    }
    groups, _, like = RULE_ROLES[role]
    client = Client()
    client.force_login(make_user(*ALL_ACTIONS, groups=groups))
    want = case.expect[like] if like else "403"
    url = url_of(name, case, "include")
    before = redis_fingerprint(dash_redis)
    response = client.get(url, case.query) if case.method == "GET" else client.post(url, case.data)
    assert outcome_of(response) == want, f"{case.method} {url} as {role}"
    if want != "go":
        assert redis_fingerprint(dash_redis) == before


@pytest.mark.parametrize("name", ["overview", "metrics", "workers"])
def test_unscoped_pages_hide_queues_a_rule_hides(
    name: str, data: Any, settings: Any, make_user: Callable[..., User]
) -> None:
    settings.QUEUE_DASHBOARD = {
        **settings.QUEUE_DASHBOARD,
        "QUEUE_RULES": {"default:emails": {"view": ["mail"]}},
    }
    client = Client()
    client.force_login(make_user(*ALL_ACTIONS))
    case = DECLARED[name][0]
    response = client.get(url_of(name, case, "include"))
    assert response.status_code == 200
    assert b"emails" not in response.content


def test_metrics_token_and_private_health(
    data: Any, settings: Any, client: Client
) -> None:
    settings.QUEUE_DASHBOARD = {
        **settings.QUEUE_DASHBOARD,
        "API_TOKEN": "s3cret-token",
        "HEALTH_PUBLIC": False,
    }
    metrics = url_of("metrics", DECLARED["metrics"][0], "include")
    health = url_of("health", DECLARED["health"][0], "include")
    assert client.get(metrics).status_code == 403
    assert client.get(metrics, headers={"authorization": "Bearer wrong"}).status_code == 403
    assert client.get(metrics, headers={"authorization": "Bearer s3cret-token"}).status_code == 200
    assert client.get(health).status_code == 403
    assert client.get(health, headers={"authorization": "Bearer s3cret-token"}).status_code == 200
    settings.QUEUE_DASHBOARD = {**settings.QUEUE_DASHBOARD, "API_TOKEN": ""}
    # No token configured: an empty bearer must not match it.
    assert client.get(metrics, headers={"authorization": "Bearer "}).status_code == 403
