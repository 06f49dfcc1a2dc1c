"""The standalone site (config.settings) in its own process, serving pages to the test
through Django's test client, so that one process keeps its connections across a failover.

QUEUE_DASHBOARD_REDIS_URL=... DJANGO_DB_PATH=... python -m tests.reliability.proc_dashboard

Prints "ready", then reads one path per line on stdin and answers each with one JSON line:
{"status": <HTTP status>, "body": <page text>}. Exits at the end of stdin.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", "--noinput", verbosity=0)
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    print("ready", flush=True)
    for line in sys.stdin:
        response = client.get(line.strip())
        print(json.dumps({"status": response.status_code,
                          "body": response.content.decode(errors="replace")}), flush=True)


if __name__ == "__main__":
    main()
