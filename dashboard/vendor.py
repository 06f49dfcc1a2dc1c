"""Versions of the JavaScript vendored under ``static/queue_dashboard/vendor/`` (no CDN).

To update htmx: ``npm pack htmx.org@<version>`` in a temporary folder, copy
``dist/htmx.min.js`` and ``LICENSE`` into ``static/queue_dashboard/vendor/htmx/``, change the
pin below; a test checks that the file carries this version.

To update the websocket extension: ``npm pack htmx-ext-ws@<version>`` (a 2.x release, for
htmx 2), copy ``dist/ws.min.js`` and ``LICENSE`` into
``static/queue_dashboard/vendor/htmx-ext-ws/``, change the version and the file's SHA-256
below (the minified file carries no version string, so a test checks the hash).
"""

from __future__ import annotations

HTMX_VERSION = "2.0.11"
HTMX_PATH = "queue_dashboard/vendor/htmx/htmx.min.js"

HTMX_EXT_WS_VERSION = "2.0.4"
HTMX_EXT_WS_PATH = "queue_dashboard/vendor/htmx-ext-ws/ws.min.js"
HTMX_EXT_WS_SHA256 = "896afc2936ded7a56373edf16ce75b0fe9bf49c03d1f55aee9baa94cb87c8d3e"
