"""``manage.py queuecore_worker pkg.module:function --queue Q [--concurrency N] ...``

The same worker as ``python -m queuecore worker``, inside the Django project (settings and
apps are loaded, so processors may use the ORM). ``--url`` and ``--prefix`` default to the
first connection of ``QUEUE_DASHBOARD``. SIGTERM and SIGINT drain gracefully.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from queuecore.worker import cli

from ...conf import get_settings


class Command(BaseCommand):
    help = "Run a queuecore worker (see `python -m queuecore worker --help`)."

    def run_from_argv(self, argv: list[str]) -> None:
        # argv: [manage.py, queuecore_worker, *worker args]; argparse in queuecore does the rest.
        args = list(argv[2:])
        if args and args[0] in ("-h", "--help"):
            cli.main(["worker", "--help"])
            return
        connection = get_settings().connections[0]
        if not any(a == "--url" or a.startswith("--url=") for a in args):
            args += ["--url", connection.url]
        if not any(a == "--prefix" or a.startswith("--prefix=") for a in args):
            args += ["--prefix", connection.prefix]
        sys.exit(cli.main(["worker", *args]))

    def handle(self, *args: Any, **options: Any) -> None:  # pragma: no cover - run_from_argv
        raise NotImplementedError
