"""Smoke runs of every benchmark with tiny N: they must run end to end and write sane JSON results.

Figures are not asserted (the machine decides them); only that each benchmark measured what it
says it measures (every job polled, every prompt acknowledged, every byte stored).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def run_smoke(module: str, out: Path, *extra: str, timeout: float = 240) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module> --smoke --out <out> [extra…]`` and return its JSON result."""
    completed = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", "--smoke", "--out", str(out), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    files = list(out.glob("*.json"))
    assert len(files) == 1, files
    result: dict[str, Any] = json.loads(files[0].read_text())
    assert result["hardware"]["nproc"]
    return result


def test_engine_capacity_smoke_polls_every_job_and_reports_lag_and_stalls(tmp_path: Path) -> None:
    result = run_smoke("engine_capacity", tmp_path, "--stall-watch")
    (row,) = result["rows"]
    assert row["jobs"] == 50
    assert row["polls"] >= 50  # every job was polled at least once in the window
    assert row["starved_tasks"] == 0
    for key in ("lag_p99_s", "engine_cpu_pct", "redis_cpu_pct", "rss_per_job_bytes", "redis_bytes_per_job"):
        assert key in row
    assert row["gc_tracked_objects"] > 0  # the stall watch ran and reported


def test_engine_capacity_smoke_with_two_pollers_splits_the_jobs_and_polls_them_all(tmp_path: Path) -> None:
    result = run_smoke("engine_capacity", tmp_path, "--pollers", "2")
    (row,) = result["rows"]
    assert row["pollers"] == 2
    assert sum(row["held_per_poller"]) == row["jobs"] == 50
    assert min(row["held_per_poller"]) > 0
    assert row["starved_tasks"] == 0
    assert len(row["engine_cpu_pct_per_poller"]) == 2


def test_adoption_smoke_schedules_every_job_in_both_cases(tmp_path: Path) -> None:
    result = run_smoke("adoption", tmp_path)
    rows = result["rows"]
    assert [r["case"] for r in rows] == ["restart", "orphans"]
    for row in rows:
        assert row["scheduled"] == row["jobs"] == 200


def test_ack_latency_smoke_acknowledges_every_prompt_in_both_modes(tmp_path: Path) -> None:
    # Returning users (two delivered videos each) and the stall report, so neither option can rot.
    result = run_smoke("ack_latency", tmp_path, "--history", "2", "--stall-report")
    rows = result["rows"]
    assert [r["mode"] for r in rows] == ["polling", "webhook"]
    for row in rows:
        assert row["history_jobs_per_user"] == 2
        assert row["acked"] == row["prompts"] == 10
        assert row["status_edits"] == 10  # the engine's share of each prompt was waited for too
        assert row["p99_ms"] > 0
        assert row["redis_calls_per_prompt"] > 0


def test_delivery_transfer_smoke_stores_every_byte_on_every_path(tmp_path: Path) -> None:
    result = run_smoke("delivery_transfer", tmp_path, "--repeat", "2")  # two rounds: both phase orders
    (row,) = result["rows"]
    size = 12 * 1024 * 1024
    phases = ("pipeline_to_s3", "store_to_s3_from_disk", "pipeline_to_local", "boto3_upload_file")
    for name in phases:
        assert row[name]["bytes"] == size, name
        assert row[name]["peak_rss_growth_mb"] >= 0, name
    assert row["s3_throughput_vs_boto3"] > 0
    assert row["store_from_disk_vs_boto3"] > 0
    for paired in (row["s3_vs_boto3_paired"], row["store_from_disk_vs_boto3_paired"]):
        assert len(paired["runs"]) == 2
        assert paired["median"] > 0


def test_scheduler_churn_smoke_runs_both_variants_and_counts_what_the_jobs_hold(tmp_path: Path) -> None:
    result = run_smoke("scheduler_churn", tmp_path)
    rows = {row["variant"]: row for row in result["rows"]}
    assert set(rows) == {"job-per-task", "date-job-per-poll"}
    for row in rows.values():
        assert row["jobs"] == 200
        assert row["runs_per_s"] > 0  # the tasks ran in the window
        assert row["tracked_objects"] > 0
        assert row["full_collection_ms"] >= 0


def test_script_calls_smoke_measures_every_variant(tmp_path: Path) -> None:
    result = run_smoke("script_calls", tmp_path)
    rows = {row["variant"]: row for row in result["rows"]}
    assert set(rows) == {"pacing-only", "pooled", "batcher"}
    for row in rows.values():
        assert len(row["cpu_us_per_call"]) == 1
        assert row["cpu_us_per_call"][0] > 0
    assert "cpu_us_per_call_minus_pacing" in rows["batcher"]
