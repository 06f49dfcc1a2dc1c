"""``python -m queuecore``: run a worker, or check a queue's health.

    python -m queuecore worker app.tasks:send_email --queue emails --concurrency 20
    python -m queuecore worker app.tasks:resize --queue images --processes 4
    python -m queuecore health --queue emails

The Redis URL comes from ``--url``, else ``QUEUECORE_REDIS_URL``, else the local default.
SIGTERM and SIGINT stop a worker gracefully: it stops fetching, lets active jobs finish
(up to ``--shutdown-timeout`` seconds, then gives them back to the queue) and exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..base.errors import InvalidOptionsError
from ..client.queue import Queue
from ..observe.health import check_health
from ..transport.connection import DEFAULT_URL, describe
from .targets import import_target
from .worker import Worker

URL_ENV = "QUEUECORE_REDIS_URL"
LOG_LEVELS = ("debug", "info", "warning", "error")

#: The worker command records metrics by default (the library's Worker does not, as BullMQ's):
#: the dashboard's chart and the failure-rate alert read them.
METRICS_POINTS = 1440

log = logging.getLogger("queuecore.cli")


def _int_at_least(low: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _add_connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue", "-q", required=True, help="the queue's name")
    parser.add_argument("--url", default=None,
                        help=f"redis:// or rediss:// URL (default: ${URL_ENV} or {DEFAULT_URL})")
    parser.add_argument("--prefix", default="bull", help="key prefix (default: bull)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m queuecore",
                                     description="queuecore: a Redis job queue (BullMQ 6 format)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worker = commands.add_parser("worker", help="process the jobs of a queue")
    worker.add_argument("target", metavar="pkg.module:function",
                        help="the processor: a function (def or async def) taking a job")
    _add_connection(worker)
    worker.add_argument("--concurrency", "-c", type=_int_at_least(1), default=1,
                        help="jobs run at once (default: 1)")
    worker.add_argument("--processes", "-p", type=_int_at_least(1), default=None,
                        help="run the processor in this many child processes (CPU-bound work)")
    worker.add_argument("--initializer", default=None, metavar="pkg.module:function",
                        help="with --processes: called in each child before the processor is "
                             "imported (e.g. django:setup)")
    worker.add_argument("--name", default=None, help="worker name (shown in the client list)")
    worker.add_argument("--lock-duration", type=_int_at_least(1), default=30_000, metavar="MS")
    worker.add_argument("--stalled-interval", type=_int_at_least(1), default=30_000,
                        metavar="MS")
    worker.add_argument("--max-stalled-count", type=_int_at_least(0), default=1, metavar="N")
    worker.add_argument("--shutdown-timeout", type=_seconds, default=None, metavar="S",
                        help="on SIGTERM, wait this long for active jobs (default: no limit)")
    worker.add_argument("--metrics", type=_int_at_least(0), default=METRICS_POINTS, metavar="N",
                        help="keep N per-minute completed/failed counts in BullMQ's metrics"
                             f" keys, for charts and alerts (default {METRICS_POINTS}, a day;"
                             " 0: record none)")
    worker.add_argument("--remote-cancel", action="store_true",
                        help="cancel a running job when any process calls request_cancel "
                             "(the processor takes a second parameter, its CancelSignal)")
    worker.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    worker.set_defaults(command_parser=worker)

    health = commands.add_parser("health", help="print a queue's health as JSON; exit 0 if "
                                                "Redis answered, else 1")
    _add_connection(health)
    health.add_argument("--timeout", type=_seconds, default=2.0, metavar="S")
    health.set_defaults(command_parser=health)
    return parser


def _url(args: argparse.Namespace) -> str:
    return str(args.url or os.environ.get(URL_ENV) or DEFAULT_URL)


def _run_worker(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.initializer and not args.processes:
        parser.error("--initializer needs --processes")
    processor: str | Callable[..., Any] = args.target
    if not args.processes:  # with --processes only the children import it (initializer first)
        try:
            processor = import_target(args.target)
        except InvalidOptionsError as exc:
            parser.error(str(exc))
    url = _url(args)
    options: dict[str, Any] = {
        "prefix": args.prefix,
        "concurrency": args.concurrency,
        "name": args.name,
        "lock_duration": args.lock_duration,
        "stalled_interval": args.stalled_interval,
        "max_stalled_count": args.max_stalled_count,
        "shutdown_timeout": args.shutdown_timeout,
        "remote_cancel": args.remote_cancel,
    }
    if args.processes:
        options["processes"] = args.processes
        if args.initializer:
            options["process_initializer"] = args.initializer
    if args.metrics:
        options["metrics"] = {"max_data_points": args.metrics}
    try:
        worker = Worker(args.queue, processor, url, **options)
    except (InvalidOptionsError, ValueError, TypeError) as exc:
        parser.error(str(exc))
    worker.on("failed", lambda job, error, prev: log.warning("job %s failed: %s", job.id, error))
    worker.on("closing", lambda: log.info("stopping: letting active jobs finish"))
    log.info("worker for %s:%s on %s: %s, concurrency %d%s", args.prefix, args.queue,
             describe(url), args.target, args.concurrency,
             f", {args.processes} processes" if args.processes else "")
    try:
        worker.run_sync()
    except InvalidOptionsError as exc:  # a child could not import the processor: one line
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    log.info("worker stopped")
    return 0


def _run_health(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        queue = Queue(args.queue, _url(args), prefix=args.prefix)
    except (InvalidOptionsError, ValueError) as exc:
        parser.error(str(exc))
    with queue:
        report = check_health(queue, timeout=args.timeout)
    print(json.dumps(report.as_dict(), indent=2))
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "worker":
        return _run_worker(args.command_parser, args)
    return _run_health(args.command_parser, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
