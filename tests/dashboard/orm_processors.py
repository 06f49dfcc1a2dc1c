"""A processor whose module imports Django models at the top, as a project's tasks do: in a
child process it can only be imported after ``django.setup()``."""

from __future__ import annotations

import os
from typing import Any

from django.apps import apps
from django.contrib.auth.models import User

from queuecore import Job


def model_info(job: Job) -> dict[str, Any]:
    return {"table": User._meta.db_table, "ready": apps.ready, "pid": os.getpid()}
