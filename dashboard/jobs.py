"""Making jobs from Django code: a queue from the dashboard's settings, and jobs added only
once the database transaction that needs them has committed.

A job added inside ``transaction.atomic()`` is in Redis at once: a worker may take it before
the row it reads is committed (and see nothing), or the transaction may roll back and leave
a job about a row that never existed. ``enqueue_on_commit`` adds it from
``transaction.on_commit``: after the commit, and not at all on a rollback::

    from django.db import transaction
    from dashboard.jobs import enqueue_on_commit

    with transaction.atomic():
        order = Order.objects.create(...)
        enqueue_on_commit("emails", "receipt", {"order": order.pk})

Outside a transaction (autocommit) the job is added at once, as Django runs ``on_commit``
callbacks then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.db import transaction
from typing_extensions import Unpack

from dashboard import connections
from queuecore import DataError, Job, JobOptionsDict, Queue


def get_queue(name: str, connection: str | None = None) -> Queue:
    """The queuecore ``Queue`` ``name`` on a connection of ``QUEUE_DASHBOARD['CONNECTIONS']``
    (default: the first), with its URL and prefix. Shared per process: do not close it."""
    if connection is None:
        from dashboard import conf

        connection = conf.get_settings().connections[0].name
    return connections.get_queue(connection, name)


def enqueue_on_commit(
    queue: str,
    name: str,
    data: Any = None,
    *,
    connection: str | None = None,
    using: str | None = None,
    on_added: Callable[[Job], object] | None = None,
    **options: Unpack[JobOptionsDict],
) -> None:
    """Add job ``name`` with ``data`` to ``queue`` once the current transaction of database
    ``using`` commits; nothing when it rolls back.

    ``data`` is checked and copied now (JSON: a mistake fails here, inside the transaction,
    and later changes to the caller's dict do not leak into the job); the queue and
    connection are looked up now too. ``on_added`` gets the stored ``Job`` after the commit.
    A Redis error after the commit propagates from the ``on_commit`` callback (the rows are
    committed by then): give ``job_id`` in ``options`` to make a retry add no duplicate.
    """
    target = get_queue(queue, connection)
    try:
        frozen = json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise DataError(f"job data must be JSON (no NaN or Infinity): {exc}") from exc

    def add() -> None:
        job = target.add(name, frozen, **options)
        if on_added is not None:
            on_added(job)

    transaction.on_commit(add, using=using)
