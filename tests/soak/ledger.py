"""The soak's ledger, kept outside Redis: one append-only file per process.

Every line is written with a single ``write()`` on an ``O_APPEND`` descriptor, so it is whole
and survives a SIGKILL of its writer the moment the call returns. Lines are
``<event> <job id> <detail> <unix time>``:

- producers: ``ack <id> <spec>`` once Redis acknowledged the add (``spec`` says what the job
  must do, see ``producer.py``);
- processors: ``start <id> <attempt>`` before the work, then ``ok <id> <attempt>`` or
  ``err <id> <attempt>`` (a planned failure) after it; ``attempt`` is ``attempts_made`` at the
  start, so a re-run of the same attempt is a duplicate;
- the driver: ``kill <pid> <signal>`` (a worker killed by the chaos driver) and ``sched <id>
  <every>``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path


class Ledger:
    def __init__(self, directory: str | Path, role: str) -> None:
        self.pid = os.getpid()
        self.path = Path(directory) / f"{role}-{self.pid}.log"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def note(self, event: str, job_id: str, detail: str | int = "-") -> None:
        os.write(self.fd, f"{event} {job_id} {detail} {time.time():.4f}\n".encode())

    def close(self) -> None:
        os.close(self.fd)


@dataclass(frozen=True)
class Entry:
    role: str
    pid: int
    event: str
    job_id: str
    detail: str
    at: float


def read_entries(directory: Path) -> list[Entry]:
    """Every whole line of every ledger file, in time order. A line cut by a kill in the
    middle of ``write()`` cannot happen (one call per line); a malformed line is an error."""
    entries = []
    for path in directory.glob("*.log"):
        role, pid = path.stem.rsplit("-", 1)
        for n, line in enumerate(path.read_text().splitlines(), 1):
            fields = line.split(" ")
            if len(fields) != 4:
                raise AssertionError(f"{path.name}:{n}: malformed ledger line {line!r}")
            event, job_id, detail, at = fields
            entries.append(Entry(role, int(pid), event, job_id, detail, float(at)))
    entries.sort(key=lambda e: e.at)
    return entries
