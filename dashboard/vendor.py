"""Versions of the JavaScript vendored under ``static/queue_dashboard/vendor/`` (no CDN).

To update: ``npm pack htmx.org@<version>`` in a temporary folder, copy ``dist/htmx.min.js``
and ``LICENSE`` into ``static/queue_dashboard/vendor/htmx/``, change the pin below; a test
checks that the file carries this version.
"""

from __future__ import annotations

HTMX_VERSION = "2.0.11"
HTMX_PATH = "queue_dashboard/vendor/htmx/htmx.min.js"
