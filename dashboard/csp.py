"""The dashboard's Content-Security-Policy: scripts and styles only from static files.

How it meets a project's own policy:

- With django-csp 4 enforcing a policy (``csp.middleware.CSPMiddleware`` and
  ``CONTENT_SECURITY_POLICY``), the dashboard sets no header: it asks the middleware to add
  only what its pages need (``NEEDS``) to the project's directives, so ``frame-ancestors``,
  ``report-uri`` and the rest stay the project's.
- Otherwise, unless something already set the header on the response, it sets its own strict
  policy, whose ``frame-ancestors`` follows ``X_FRAME_OPTIONS`` (``DENY`` gives ``'none'``),
  because browsers that read ``frame-ancestors`` ignore ``X-Frame-Options``: the dashboard
  never allows framing the project forbids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

HEADER = "Content-Security-Policy"
SELF = "'self'"

#: What the pages use: their static scripts and styles, data: images (the chart's icons),
#: and the same-origin websocket.
NEEDS: Mapping[str, tuple[str, ...]] = {
    "script-src": (SELF,),
    "style-src": (SELF,),
    "img-src": (SELF, "data:"),
    "connect-src": (SELF,),
}

_STRICT = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)

View = Callable[..., HttpResponseBase]


def frame_ancestors() -> str:
    """``frame-ancestors`` no looser than the project's ``X_FRAME_OPTIONS``."""
    option = str(getattr(settings, "X_FRAME_OPTIONS", "DENY")).upper()
    return "frame-ancestors 'none'" if option == "DENY" else "frame-ancestors 'self'"


def policy() -> str:
    """The dashboard's own policy, for projects without one."""
    return "; ".join((*_STRICT, frame_ancestors()))


def django_csp_enforces() -> bool:
    """True when django-csp's middleware will write the project's enforced policy."""
    middleware = [str(m) for m in getattr(settings, "MIDDLEWARE", ())]
    return any(m.startswith("csp.middleware.") for m in middleware) and bool(
        getattr(settings, "CONTENT_SECURITY_POLICY", None)
    )


def apply(response: HttpResponseBase) -> HttpResponseBase:
    if django_csp_enforces():
        update: dict[str, Any] = dict(getattr(response, "_csp_update", None) or {})
        for directive, sources in NEEDS.items():
            have = list(update.get(directive) or ())
            update[directive] = have + [s for s in sources if s not in have]
        response._csp_update = update  # type: ignore[attr-defined]
    else:
        response.headers.setdefault(HEADER, policy())
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def with_csp(view: View) -> View:
    """Give the view's responses the dashboard's policy (see the module's notes)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return apply(view(request, *args, **kwargs))

    return wrapper
