"""Start-up and adoption: how long until a Worker holds (and has scheduled) N active jobs.

Two cases on a real redis-server, jobs created through RedisJobStore with their next poll far ahead
(so no poll runs and only the adoption is timed):

* ``restart``: the jobs' owner is this process id (a poller restarted under the same id): the scan
  finds them held in Redis but not scheduled here and schedules each one;
* ``orphans``: the jobs' owner is a process without a heartbeat (it was killed): the scan takes each
  lease (compare-and-set) and schedules the job.

    uv run python -m benchmarks.adoption --jobs 10000 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis

from benchmarks.common import exit_on_sigterm, quiet_logs, redis_server, rss_bytes, write_result
from benchmarks.engine_capacity import NullNotifier
from poller.delivery import DeliveryPipeline
from poller.engine import Engine
from poller.finish import JobFinisher
from poller.jobs import Job, JobStatus, new_job_id
from poller.ports import Session
from poller.schedule import PollPolicy
from poller.worker import Worker
from providers.api_client import ApiClient
from providers.kie_veo import KieVeoProvider
from providers.registry import ProviderRegistry
from storage.credits import NoBilling
from storage.events import RedisEventBus
from storage.leases import RedisLeases
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore
from storage.redis_support import connect_redis

PROCESS_ID = "bench-poller"
DEAD_PROCESS_ID = "killed-poller"


async def create_held_jobs(store: RedisJobStore, count: int, owner: str) -> float:
    """Create ``count`` running jobs held by ``owner``; return the seconds it took."""
    started = time.monotonic()
    due = time.time() + 86400
    semaphore = asyncio.Semaphore(50)

    async def one(i: int) -> None:
        job = Job(
            id=new_job_id(),
            user_id=200_000 + i,
            chat_id=200_000 + i,
            model="veo3_fast",
            prompt="benchmark",
            provider="kie_veo",
            provider_task_id=f"adopt-task-{i}",
            status=JobStatus.RUNNING,
            next_poll_at=due,
            owner=owner,
        )
        async with semaphore:
            await store.create(job, Session(chat_id=job.chat_id, user_id=job.user_id))

    await asyncio.gather(*(one(i) for i in range(count)))
    return time.monotonic() - started


async def measure(url: str, count: int, case: str) -> dict[str, Any]:
    """Time one adoption of ``count`` jobs in the given case."""
    client = cast("Redis", connect_redis(url))
    await client.flushall()
    store = RedisJobStore(client, prefix="bench")
    sessions = RedisSessionStore(client, prefix="bench")
    leases = RedisLeases(client, prefix="bench")
    create_s = await create_held_jobs(store, count, PROCESS_ID if case == "restart" else DEAD_PROCESS_ID)
    notifier = NullNotifier()
    http = ApiClient(5.0, 4)
    engine = Engine(
        process_id=PROCESS_ID,
        jobs=store,
        sessions=sessions,
        providers=ProviderRegistry([KieVeoProvider(http, "http://127.0.0.1:9", "unused")]),
        delivery=cast("DeliveryPipeline", None),
        finisher=JobFinisher(sessions=sessions, notifier=notifier, billing=NoBilling()),
        notifier=notifier,
        policy=PollPolicy(interval_s=60, first_poll_s=60),
        max_polls_in_flight=4,
    )
    worker = Worker(engine=engine, jobs=store, leases=leases, events=RedisEventBus(client, prefix="bench"), lease_s=60)
    rss0 = rss_bytes()
    started = time.monotonic()
    await worker.start()
    while len(engine.owned) < count and time.monotonic() - started < 600:  # noqa: ASYNC110 (no event to wait on)
        await asyncio.sleep(0.01)
    adopt_s = time.monotonic() - started
    scheduled = len(engine.scheduler.get_jobs()) - 1  # minus the sweeper
    rss1 = rss_bytes()
    await worker.stop()
    await http.aclose()
    await client.aclose()
    return {
        "case": case,
        "jobs": count,
        "create_s": round(create_s, 2),
        "adopt_s": round(adopt_s, 2),
        "jobs_per_s": round(count / adopt_s) if adopt_s else None,
        "scheduled": scheduled,
        "rss_growth_mb": round((rss1 - rss0) / 2**20, 1),
    }


async def amain(counts: list[int]) -> list[dict[str, Any]]:
    """Both cases for each count, one redis-server."""
    quiet_logs()
    rows = []
    with redis_server() as redis:
        for count in counts:
            for case in ("restart", "orphans"):
                row = await measure(redis.url, count, case)
                print(
                    f"{case:<8} jobs={count:>7} adopt={row['adopt_s']:>7} s ({row['jobs_per_s']} jobs/s) "
                    f"scheduled={row['scheduled']} rss growth={row['rss_growth_mb']} MB (create {row['create_s']} s)",
                    flush=True,
                )
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> Path:
    """CLI entry point; returns the JSON result path."""
    import sys

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="+", default=[10_000])
    parser.add_argument("--smoke", action="store_true", help="tiny run: 200 jobs")
    parser.add_argument("--out", type=Path, default=None)
    exit_on_sigterm()
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    counts = [200] if args.smoke else args.jobs
    rows = asyncio.run(amain(counts))
    result = {"command": "python -m benchmarks.adoption " + " ".join(raw), "rows": rows, "target_s_for_100k": 5.0}
    path = write_result("adoption_smoke" if args.smoke else "adoption", result, args.out)
    print(json.dumps({"rows": len(rows)}))
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
