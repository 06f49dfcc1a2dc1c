"""``manage.py queuecore_worker pkg.module:function --queue Q [--concurrency N] ...``

The same worker as ``python -m queuecore worker``, inside the Django project (settings and
apps are loaded, so processors may use the ORM). ``--url`` and ``--prefix`` default to the
first connection of ``QUEUE_DASHBOARD``. With ``--processes N`` each child process runs
``django.setup()`` before it imports the processor (``--initializer django:setup``, unless
another initializer is given). SIGTERM and SIGINT drain gracefully.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from queuecore.worker import cli

from ...conf import get_settings

#: Run in each child of ``--processes`` before the processor (whose module may import models).
DJANGO_SETUP = "django:setup"


def _given(args: list[str], *names: str) -> bool:
    return any(a == n or a.startswith(n + "=") for a in args for n in names)


class Command(BaseCommand):
    help = "Run a queuecore worker (see `python -m queuecore worker --help`)."

    def run_from_argv(self, argv: list[str]) -> None:
        # argv: [manage.py, queuecore_worker, *worker args]; argparse in queuecore does the rest.
        args = list(argv[2:])
        if args and args[0] in ("-h", "--help"):
            cli.main(["worker", "--help"])
            return
        connection = get_settings().connections[0]
        if not _given(args, "--url"):
            args += ["--url", connection.url]
        if not _given(args, "--prefix"):
            args += ["--prefix", connection.prefix]
        if _given(args, "--processes", "-p") and not _given(args, "--initializer"):
            args += ["--initializer", DJANGO_SETUP]
        sys.exit(cli.main(["worker", *args]))

    def handle(self, *args: Any, **options: Any) -> None:  # pragma: no cover - run_from_argv
        raise NotImplementedError
