"""The chaos soak, scaled down to about 3 minutes so that it runs in every ``make test``
(``make soak`` runs the hour with the same checks): 2.5 minutes of mixed traffic, a fault
every 7 s for the first 100 s (the rotation in chaos.py: SIGKILLs, a SIGTERM, a Redis crash
and a clean Redis restart, latency, drops, a cut), then a calm tail and the drain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.soak.report import table
from tests.soak.run import Settings, run_soak

# RSS may grow while caches fill; what is asserted is a ceiling a leak of a few KiB per job
# would cross (about 4,000 jobs run here); the figures themselves go to bench/ from make soak.
RSS_GROWTH_LIMIT_MIB = 15.0


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_chaos_soak_loses_no_job_and_reruns_only_killed_workers_jobs(tmp_path: Path) -> None:
    results = run_soak(Settings(minutes=2.5, interval=7.0, rate=15.0, seed=19), tmp_path)
    (tmp_path / "results.json").write_text(json.dumps(results, indent=2))
    print(table(results))  # shown with -rA; the figures of a failed run help most
    assert not results["problems"], "\n".join(results["problems"])
    chaos = results["chaos"]
    assert chaos.get("sigkill", 0) >= 3 and chaos.get("sigterm", 0) >= 1, chaos
    assert chaos.get("redis-kill", 0) >= 1 and chaos.get("redis-term", 0) >= 1, chaos
    assert chaos.get("latency", 0) >= 1 and chaos.get("drops", 0) >= 1, chaos
    assert results["acknowledged"] > 1000
    assert results["lost"] == 0
    for name, rss in results["rss"].items():
        assert rss["samples"] >= 10, (name, rss)
        assert rss["growth_mib"] <= RSS_GROWTH_LIMIT_MIB, (name, rss)
    dashboard = results["dashboard"]
    assert all(frames > 0 for frames in dashboard["frames"]), dashboard
