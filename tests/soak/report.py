"""The soak's summary table (Markdown), printed and written into docs/production.md between
the ``soak-table`` markers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN = "<!-- soak-table:begin -->"
END = "<!-- soak-table:end -->"


def table(results: dict[str, Any]) -> str:
    chaos = results.get("chaos", {})
    kills = results.get("killed_workers", {})
    dups = results.get("duplicate_executions", {})
    sched = results.get("scheduler", {})
    restarts = chaos.get("redis-kill", 0) + chaos.get("redis-term", 0)
    rows = [
        ("run", f"{results['date']}, {results['traffic_s'] / 60:.1f} min of traffic, "
                f"drained in {results['drain_s']:.0f} s"),
        ("jobs acknowledged", f"{results['acknowledged']} ({_kinds(results['by_kind'])}), "
                              f"{results['executions']} executions"),
        ("scheduler slots run", f"{sched.get('slots_run', 0)} of {sched.get('slots_in_span', 0)}"
                                f" in its span ({sched.get('skipped_during_chaos', 0)} skipped "
                                "during faults, none after)"),
        ("workers killed", f"{kills.get('sigkill', 0)} SIGKILL, {kills.get('sigterm', 0)} "
                           f"SIGTERM ({results['worker_processes']} worker processes in all)"),
        ("Redis restarts (AOF, appendfsync "
         f"{results['settings']['appendfsync']})",
         f"{restarts} ({chaos.get('redis-kill', 0)} SIGKILL, {chaos.get('redis-term', 0)} "
         "SIGTERM)"),
        ("network faults", f"{chaos.get('latency', 0)} latency spells, {chaos.get('drops', 0)} "
                           f"drop spells, {chaos.get('cut', 0)} cuts; "
                           f"{results['proxy']['replies_dropped']} replies dropped"),
        ("lost jobs", str(results["lost"])),
        ("duplicate executions", f"{sum(dups.values())} ({_dups(dups)}) in "
                                 f"{results['duplicated_jobs']} jobs"),
    ]
    for name, rss in sorted(results["rss"].items()):
        if rss.get("samples"):
            rows.append((f"RSS {name}", f"{rss['rss_start_mib']} -> {rss['rss_end_mib']} MiB "
                                        f"over {rss['over_s'] / 60:.0f} min, slope "
                                        f"{rss['slope_mib_per_hour']} MiB/h"))
    rows.append(("problems", str(len(results["problems"]))))
    out = ["| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(out)


def _kinds(by_kind: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(by_kind.items()))


def _dups(dups: dict[str, int]) -> str:
    return ", ".join(f"{n} after {why}" for why, n in sorted(dups.items())) or "none"


def write_docs(path: Path, results: dict[str, Any]) -> None:
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path} has no {BEGIN} ... {END} section")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{table(results)}\n{END}{tail}")
