"""The dashboard's CSP meets the project's: with django-csp 4 it only adds what its pages need
to the project's policy; without it, its own policy never allows framing that the project's
X_FRAME_OPTIONS forbids."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.dashboard.conftest import MOUNT

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("dash_redis")]

PROJECT_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'", "https://cdn.example"],
        "frame-ancestors": ["'none'"],
        "report-uri": "/csp-report/",
    }
}


def directives(header: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


@pytest.mark.parametrize(("option", "ancestors"), [("DENY", "'none'"), ("SAMEORIGIN", "'self'")])
def test_own_policy_follows_x_frame_options(
    viewer_client: Client, settings: Any, option: str, ancestors: str
) -> None:
    settings.X_FRAME_OPTIONS = option
    response = viewer_client.get(MOUNT)
    assert response["X-Frame-Options"] == option
    found = directives(response["Content-Security-Policy"])
    assert found["frame-ancestors"] == [ancestors]
    assert found["script-src"] == ["'self'"]
    assert found["object-src"] == ["'none'"]


def test_django_csp_keeps_the_projects_policy_and_adds_what_pages_need(
    viewer_client: Client, settings: Any
) -> None:
    settings.MIDDLEWARE = [*django_settings.MIDDLEWARE, "csp.middleware.CSPMiddleware"]
    settings.CONTENT_SECURITY_POLICY = PROJECT_POLICY
    settings.X_FRAME_OPTIONS = "DENY"
    response = viewer_client.get(MOUNT)
    header = response["Content-Security-Policy"]
    found = directives(header)
    assert found["frame-ancestors"] == ["'none'"]
    assert found["report-uri"] == ["/csp-report/"]
    assert found["default-src"] == ["'self'", "https://cdn.example"]
    assert found["script-src"] == ["'self'"]
    assert found["style-src"] == ["'self'"]
    assert found["connect-src"] == ["'self'"]
    assert "'unsafe-inline'" not in header
    assert response["X-Frame-Options"] == "DENY"
    # A page outside the dashboard keeps the project's policy untouched.
    other = viewer_client.get("/dashboard/")
    assert directives(other["Content-Security-Policy"]).keys() == {
        "default-src", "frame-ancestors", "report-uri"}


def test_django_csp_without_an_enforced_policy_leaves_the_dashboards(
    viewer_client: Client, settings: Any
) -> None:
    settings.MIDDLEWARE = [*django_settings.MIDDLEWARE, "csp.middleware.CSPMiddleware"]
    settings.CONTENT_SECURITY_POLICY = None
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = PROJECT_POLICY
    response = viewer_client.get(MOUNT)
    found = directives(response["Content-Security-Policy"])
    assert found["script-src"] == ["'self'"]
    assert "report-uri" in directives(response["Content-Security-Policy-Report-Only"])
