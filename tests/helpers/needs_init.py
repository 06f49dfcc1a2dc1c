"""A processor module that, like one importing Django models, cannot be imported before its
framework is set up: here, before ``processors.set_init_mark`` ran in the same process."""

from __future__ import annotations

import os
from typing import Any

from queuecore import Job

if os.environ.get("QC_TEST_INIT_MARK") != "ready":
    raise RuntimeError("imported before the initializer ran")


def report_mark(job: Job) -> dict[str, Any]:
    return {"mark": os.environ["QC_TEST_INIT_MARK"], "pid": os.getpid()}
