"""``manage.py queue_dashboard_alerts [--once]``: evaluate the alert rules every
``ALERTS_INTERVAL_SECONDS`` and send their notifications.

Runs until SIGTERM or SIGINT. Several may run (one per host, for availability): they share
one lease in the database, so one evaluates at a time and each alert is delivered once.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.alerts import settings as alert_settings
from dashboard.alerts.delivery import deliver_due
from dashboard.alerts.evaluator import evaluate_all
from dashboard.alerts.runner import Evaluator


class Command(BaseCommand):
    help = "Evaluate the dashboard's alert rules in a loop and send their notifications."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true",
            help="Evaluate every rule once and send due notifications, then exit "
                 "(ignores the lease: for cron or a test).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            alert_settings.get()  # bad ALERTS_* settings stop the command here, named
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if options["once"]:
            rules = evaluate_all()
            sent = deliver_due()
            self.stdout.write(f"evaluated {rules} rules, {sent} delivery attempts")
            return
        evaluator = Evaluator()

        def stop(signum: int, frame: Any) -> None:
            evaluator.stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"alerts evaluator {evaluator.holder} running", ending="\n")
        self.stdout.flush()
        evaluator.run()
