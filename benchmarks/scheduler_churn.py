"""The scheduler alone: what a poll costs APScheduler, and what the held jobs cost the garbage collector.

N tasks, each polled every ``--interval`` seconds by a step that does nothing but plan its next run,
in two ways on the same :class:`~poller.scheduler.EngineScheduler` (so only the job's life differs):

* ``job-per-task`` (Reelay): :meth:`EngineScheduler.run_at`: one APScheduler job per task, parked
  between runs and moved by each poll;
* ``date-job-per-poll`` (the usual APScheduler pattern, what Reelay did before): every poll adds a new
  ``date`` job with the task's id (``replace_existing``); the fired one is dropped. The same wakeup
  suppression applies (no scheduler pass for a job due after the armed timer).

Reported per variant: runs/s, CPU per run, young (generation 0) collections per 1,000 runs, objects
the collector tracks with every task held, and how long one full collection of them takes (start-up
objects frozen before any job exists, as ``poller.gc_policy`` does). No Redis, no HTTP: the engine's capacity
benchmark measures the whole poll.

    uv run python -m benchmarks.scheduler_churn --jobs 120000 --interval 60 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from benchmarks.common import write_rows
from poller.scheduler import EngineScheduler

Variant = Literal["job-per-task", "date-job-per-poll"]
VARIANTS: tuple[Variant, ...] = ("job-per-task", "date-job-per-poll")
PLANNED_PER_S = 20_000  # a conservative rate of run_at calls per second, for the planning allowance


async def measure(variant: Variant, jobs: int, interval_s: float, seconds: float) -> dict[str, Any]:
    """Hold ``jobs`` tasks polled every ``interval_s`` for one interval of warm-up, then measure ``seconds``."""
    gc.collect()
    gc.freeze()  # as poller.gc_policy does after start-up, before any job is adopted
    scheduler = EngineScheduler(
        timezone=UTC, job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 2}
    )
    scheduler.start()
    runs = 0

    def plan(job_id: str, when: float) -> None:
        if variant == "job-per-task":
            scheduler.run_at(step, job_id, when, job_id)
        else:  # what run_at did before: a date job per poll, with the same wakeup suppression
            scheduler._quiet = scheduler._timer_fires_by(when)
            try:
                run_date = datetime.fromtimestamp(when, tz=UTC)
                scheduler.add_job(step, "date", run_date=run_date, args=(job_id,), id=job_id, replace_existing=True)
            finally:
                scheduler._quiet = False

    async def step(job_id: str) -> None:
        nonlocal runs
        runs += 1
        plan(job_id, time.time() + interval_s)

    try:
        # Spread evenly over one interval starting after the planning itself (seconds at 100k+ jobs),
        # so no backlog from the start inflates the measured rate.
        start = time.time() + max(0.5, jobs / PLANNED_PER_S)
        for i in range(jobs):
            plan(f"task-{i}", start + interval_s * i / jobs)
        await asyncio.sleep(start + interval_s - time.time())  # warm-up: every task has run once
        young_before = gc.get_stats()[0]["collections"]
        runs_before, cpu_before, wall_before = runs, time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        measured_runs = runs - runs_before
        cpu_s = time.process_time() - cpu_before
        wall_s = time.monotonic() - wall_before
        young = gc.get_stats()[0]["collections"] - young_before
        tracked = len(gc.get_objects())
        began = time.perf_counter()
        gc.collect()
        full_collection_ms = (time.perf_counter() - began) * 1000
    finally:
        scheduler.pause()
        await asyncio.sleep(0.1)  # let the steps already started finish (shutdown would cancel them)
        scheduler.shutdown(wait=False)
        gc.unfreeze()
    return {
        "variant": variant,
        "jobs": jobs,
        "interval_s": interval_s,
        "runs_per_s": round(measured_runs / wall_s, 1),
        "cpu_us_per_run": round(cpu_s / measured_runs * 1e6, 1) if measured_runs else None,
        "young_collections_per_1000_runs": round(young * 1000 / measured_runs, 2) if measured_runs else None,
        "tracked_objects": tracked,
        "tracked_objects_per_job": round(tracked / jobs, 2),
        "full_collection_ms": round(full_collection_ms, 1),
    }


def main(argv: list[str] | None = None) -> Path:
    """CLI entry point; returns the JSON result path."""
    import sys

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="+", default=[120_000])
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window after one interval")
    parser.add_argument("--smoke", action="store_true", help="tiny run: 200 jobs at 0.5 s for 1 s")
    parser.add_argument("--out", type=Path, default=None)
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    counts, interval_s, seconds = ([200], 0.5, 1.0) if args.smoke else (args.jobs, args.interval, args.seconds)
    rows = []
    for jobs in counts:
        for variant in VARIANTS:
            gc.collect()
            row = asyncio.run(measure(variant, jobs, interval_s, seconds))
            rows.append(row)
            print(
                f"{variant:<18} jobs={jobs:>7} runs/s={row['runs_per_s']:>8} cpu/run={row['cpu_us_per_run']} µs "
                f"young/1000 runs={row['young_collections_per_1000_runs']} tracked={row['tracked_objects']} "
                f"({row['tracked_objects_per_job']}/job) full collection={row['full_collection_ms']} ms"
            )
    return write_rows("scheduler_churn", raw, rows, smoke=args.smoke, out_dir=args.out)


if __name__ == "__main__":
    main()
