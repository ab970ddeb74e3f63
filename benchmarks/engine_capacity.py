"""Engine capacity: N jobs in flight through the real Engine + Worker + RedisJobStore/RedisLeases.

A real redis-server (free port) and a stand-in provider in its own process answering "running" at
once (``benchmarks.fake_kie``). Every poll does what production does: read the job, check the lease,
ask the provider through KieVeoProvider (the shipped ApiClient, whose status GETs go over its keep-alive
path, and the parser chain), count the attempt in Redis (Lua) and reschedule in APScheduler; the Worker
heartbeats and scans for orphans as it would. ``--http httpx`` swaps in the same calls over httpx (what
shipped first; kept for comparison).

Measured per task: lag = gap between two polls minus the interval, and lateness = poll time minus the
``next_poll_at`` the engine planned. Reported: polls/s, lag p50/p99/max, starved tasks, CPU % of the
engine (this process), Redis and the stand-in, RSS per job, Redis memory per job.

    uv run python -m benchmarks.engine_capacity --jobs 5000 --interval 10
    uv run python -m benchmarks.engine_capacity --jobs 2000 --interval 10 --http httpx   # the former client
    uv run python -m benchmarks.engine_capacity --jobs 32000 --pollers 2 --cpu-quota 0.4   # each poller 0.4 core
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
from redis.asyncio import Redis

from benchmarks.common import (
    CpuMeter,
    EventLoopName,
    RedisProcess,
    exit_on_sigterm,
    percentile,
    quiet_logs,
    redis_server,
    rss_bytes,
    run_on_loop,
    write_result,
)
from benchmarks.cpu_quota import CpuQuota, CpuQuotaUnavailable, own_throttled_s
from benchmarks.fake_kie import API_KEY, fake_kie_process
from benchmarks.stall_watch import StallWatch
from metrics import Metrics, PrometheusListener
from poller.delivery import DeliveryPipeline
from poller.engine import Engine
from poller.events import Listeners
from poller.finish import JobFinisher
from poller.gc_policy import settle_after_start_up
from poller.jobs import Job, JobStatus, new_job_id
from poller.ports import PollResult, Session, TaskRef
from poller.schedule import AttemptTiming, PollPolicy
from poller.worker import Worker
from providers.api_client import ApiClient, ApiResponse, ApiTransportError
from providers.http import USER_AGENT
from providers.kie_veo import KieVeoProvider
from providers.registry import ProviderRegistry
from storage.credits import NoBilling
from storage.events import RedisEventBus
from storage.leases import RedisLeases
from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore
from storage.redis_support import connect_redis

CREATE_CONCURRENCY = 50


class NullNotifier:
    """Telegram is not part of this benchmark: every notice is dropped."""

    async def job_progress(self, job: Job, session: Session) -> None:
        """Drop."""

    async def deliver(self, *args: Any, **kwargs: Any) -> Any:
        """Never called: no job succeeds here."""
        raise AssertionError("no delivery in the capacity benchmark")

    async def job_ended(self, job: Job, session: Session) -> None:
        """Drop."""


@dataclass
class Recorder:
    """Poll times per task (monotonic and wall) and the lateness against the planned time."""

    polls: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    planned: dict[str, float] = field(default_factory=dict)  # job id -> planned wall time
    lateness: list[tuple[float, float]] = field(default_factory=list)  # (monotonic, seconds late)

    def poll_started(self, task_id: str) -> None:
        self.polls[task_id].append(time.monotonic())


class RecordingStore(RedisJobStore):
    """The real job store, noting how late each step starts against the ``next_poll_at`` planned for it."""

    recorder: Recorder

    async def start_step(self, job_id: str, owner: str, timing: AttemptTiming) -> Job:
        """Start the step as usual, then note the next poll it planned."""
        planned = self.recorder.planned.get(job_id)
        if planned is not None:
            self.recorder.lateness.append((time.monotonic(), time.time() - planned))
        job = await super().start_step(job_id, owner, timing)
        if job.next_poll_at is not None:
            self.recorder.planned[job_id] = job.next_poll_at
        return job


class RecordingVeo(KieVeoProvider):
    """The real Veo adapter, noting when each poll reaches it."""

    recorder: Recorder

    async def poll(self, task: TaskRef) -> PollResult:
        """Note the time, then poll as usual."""
        self.recorder.poll_started(task.task_id)
        return await super().poll(task)


class HttpxApiClient:
    """The former client, for comparison: the ApiClient interface over ``httpx.AsyncClient``."""

    def __init__(self, timeout_s: float, max_connections: int) -> None:
        # As the product configured it before the move to aiohttp.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=30.0
            ),
            headers={"User-Agent": USER_AGENT},
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Any,
        json_body: Any = None,
        params: Any = None,
    ) -> ApiResponse:
        """One request over httpx."""
        try:
            response = await self._client.request(method, url, json=json_body, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiTransportError(str(exc), sent=True) from exc
        return ApiResponse(response.status_code, response.headers.get("Retry-After"), response.content)

    async def aclose(self) -> None:
        """Close the pool."""
        await self._client.aclose()


async def create_jobs(store: RedisJobStore, count: int, interval: float) -> list[Job]:
    """``count`` running jobs with a provider task each and no owner (as if their poller died)."""
    now = time.time()
    jobs = [
        Job(
            id=new_job_id(),
            user_id=100_000 + i,
            chat_id=100_000 + i,
            model="veo3_fast",
            prompt="benchmark",
            provider="kie_veo",
            provider_task_id=f"bench-task-{i}",
            status=JobStatus.RUNNING,
            next_poll_at=now + 3600,  # rescheduled evenly once adopted (see _spread)
        )
        for i in range(count)
    ]
    semaphore = asyncio.Semaphore(CREATE_CONCURRENCY)

    async def one(job: Job) -> None:
        async with semaphore:
            await store.create(job, Session(chat_id=job.chat_id, user_id=job.user_id))

    await asyncio.gather(*(one(job) for job in jobs))
    return jobs


def _spread(engine: Engine, interval: float) -> float:
    """Put every held job's first poll evenly over one interval, as a long-running system looks.

    The interval starts after this loop ends (it takes ≈ 10 µs a job): a job due while the loop still ran
    would start late together with its neighbours, and since each next poll is planned from the poll's
    start, that bunch would come back every interval as a lag tail no long-running system has. Returns
    the wall time the interval starts at.
    """
    owned = sorted(engine.owned)
    began = time.time()
    first = began + 1.0 + len(owned) * 25e-6
    for k, job_id in enumerate(owned):
        engine._schedule_at(job_id, first + interval * k / len(owned))
    print(f"spread {len(owned)} jobs over {interval:g} s in {time.time() - began:.2f} s", file=sys.stderr)
    return first


async def run(spec: PollerSpec, redis: RedisProcess) -> dict[str, Any]:
    """One measurement at ``spec.jobs`` jobs (held by ``spec.pollers`` poller processes); returns the figures."""
    client = cast("Redis", connect_redis(redis.url))
    await client.flushall()
    mem_before = redis.used_memory()
    t0 = time.monotonic()
    await create_jobs(RedisJobStore(client, prefix="bench"), spec.jobs, spec.interval)
    create_s = time.monotonic() - t0
    mem_jobs = redis.used_memory() - mem_before
    await client.aclose()
    gc.collect()
    common = {"create_s": round(create_s, 2), "redis_bytes_per_job": round(mem_jobs / spec.jobs)}
    if spec.pollers == 1 and spec.cpu_quota is None:
        row, _, _ = await measure(spec, "bench-poller")
        return {**row, **common}
    return {**merge_pollers(spec, run_pollers(spec)), **common}


@dataclass(frozen=True)
class PollerSpec:
    """What one poller process of the benchmark needs to know."""

    redis_url: str
    redis_pid: int
    kie_url: str
    kie_pid: int
    jobs: int
    interval: float
    rounds: float
    http: str
    in_flight: int
    pollers: int
    stall_watch: bool = False
    python_gc: bool = False
    full_gc_midway: bool = False
    event_loop: EventLoopName = "asyncio"
    cpu_quota: float | None = None  # cores per poller process (a cgroup quota); None: unlimited
    # The core's events go to the Prometheus listener, as `reelay run` wires them (off: nobody listens).
    metrics: bool = True


async def measure(spec: PollerSpec, process_id: str) -> tuple[dict[str, Any], list[float], list[str]]:
    """Run a real Worker + Engine over the jobs in Redis (its fair share of them) and measure it.

    Returns the summary row, the raw per-poll lags and the ids of the tasks polled (for merging pollers).
    """
    client = cast("Redis", connect_redis(spec.redis_url))
    store = RecordingStore(client, prefix="bench")
    recorder = Recorder()
    store.recorder = recorder
    sessions = RedisSessionStore(client, prefix="bench")
    leases = RedisLeases(client, prefix="bench")
    events = RedisEventBus(client, prefix="bench")
    interval = spec.interval
    api_client = ApiClient(30.0, spec.in_flight) if spec.http == "keepalive" else HttpxApiClient(30.0, spec.in_flight)
    provider = RecordingVeo(cast("ApiClient", api_client), spec.kie_url, API_KEY)
    provider.recorder = recorder
    notifier = NullNotifier()
    policy = PollPolicy(
        interval_s=interval, first_poll_s=interval, max_attempts=10**9, jitter=0.0, delayed_interval_s=3600
    )
    engine = Engine(
        process_id=process_id,
        jobs=store,
        sessions=sessions,
        providers=ProviderRegistry([provider]),
        delivery=cast("DeliveryPipeline", None),  # no job succeeds here
        finisher=JobFinisher(sessions=sessions, notifier=notifier, billing=NoBilling()),
        notifier=notifier,
        policy=policy,
        max_polls_in_flight=spec.in_flight,
        events=Listeners([PrometheusListener(Metrics(), store="s3")]) if spec.metrics else None,
    )
    worker = Worker(engine=engine, jobs=store, leases=leases, events=events, lease_s=max(interval, 2.0))
    # Every poller announces itself before any scans, so the first scan already splits the jobs fairly.
    await leases.heartbeat(process_id, 600)
    while len(await leases.live_processes()) < spec.pollers:  # noqa: ASYNC110 (the others are processes)
        await asyncio.sleep(0.05)
    if not spec.python_gc:
        settle_after_start_up()  # what `reelay run` does once wired
    rss_before = rss_bytes()
    t0 = time.monotonic()
    await worker.start()
    if spec.pollers == 1:
        while len(engine.owned) < spec.jobs and time.monotonic() - t0 < 300:  # noqa: ASYNC110 (no event)
            await asyncio.sleep(0.05)
    else:  # until the pollers hold every job between them: the split is whatever their scans made it
        # Each poller posts its count; reading every job's owner instead cost a CPU-capped poller seconds.
        while time.monotonic() - t0 < 300:
            await client.hset("bench:held", process_id, len(engine.owned))
            if sum(int(n) for n in await client.hvals("bench:held")) >= spec.jobs:
                break
            await asyncio.sleep(0.5)
    adopt_s = time.monotonic() - t0
    held = len(engine.owned)
    first_poll_at = _spread(engine, interval)
    # Warm-up: one interval, so every task has one poll to measure gaps from.
    await asyncio.sleep(max(0.0, first_poll_at - time.time()) + interval)
    window_start = time.monotonic()
    cpu_engine, cpu_redis, cpu_kie = CpuMeter(os.getpid()), CpuMeter(spec.redis_pid), CpuMeter(spec.kie_pid)
    throttled_before = own_throttled_s()
    rss_peak = rss_bytes()
    loop_lag: list[float] = []
    watch = StallWatch()
    if spec.stall_watch:
        watch.start()
    end = window_start + spec.rounds * interval
    midway: float | None = window_start + spec.rounds * interval / 2 if spec.full_gc_midway else None
    while (now := time.monotonic()) < end:
        if midway is not None and now >= midway:
            midway = None
            gc.collect()  # the worst case: a full collection inside the window, whenever it would come
        await asyncio.sleep(0.1)
        loop_lag.append(time.monotonic() - now - 0.1)  # how late the event loop wakes a sleeper
        rss_peak = max(rss_peak, rss_bytes())
    window_end = time.monotonic()
    throttled_s = own_throttled_s() - throttled_before
    stall_figures: dict[str, Any] = {}
    if spec.stall_watch:
        await watch.stop()
        print(f"[{process_id}] {watch.report()}", file=sys.stderr)
        stall_figures = watch.figures()
    engine_cpu, redis_cpu, kie_cpu = cpu_engine.percent(), cpu_redis.percent(), cpu_kie.percent()
    rss_after = rss_bytes()
    if spec.pollers > 1:
        # A barrier: a poller that stops hands its jobs to the others, which would skew their windows.
        await client.incr("bench:measured")
        while int(await client.get("bench:measured") or 0) < spec.pollers:  # noqa: ASYNC110 (other processes)
            await asyncio.sleep(0.05)
    await worker.stop()
    await provider.aclose()
    await client.aclose()
    return (
        summarize(
            recorder,
            jobs_n=held,
            interval=interval,
            window=(window_start, window_end),
            extra={
                "http": spec.http,
                "pollers": spec.pollers,
                "max_polls_in_flight": spec.in_flight,
                "adopt_s": round(adopt_s, 2),
                "engine_cpu_pct": round(engine_cpu, 1),
                "redis_cpu_pct": round(redis_cpu, 1),
                "standin_cpu_pct": round(kie_cpu, 1),
                "rss_before_mb": round(rss_before / 2**20, 1),
                "rss_after_mb": round(rss_after / 2**20, 1),
                "rss_per_job_bytes": round((rss_peak - rss_before) / max(held, 1)),
                "event_loop_lag_p99_ms": round(percentile(loop_lag, 99) * 1000, 1),
                "throttled_in_window_s": round(throttled_s, 2),
                **stall_figures,
            },
        ),
        lags_in_window(recorder, interval, (window_start, window_end)),
        sorted(recorder.polls),
    )


def run_pollers(spec: PollerSpec) -> list[dict[str, Any]]:
    """Run ``spec.pollers`` poller processes side by side over the same jobs; their rows and raw lags.

    With ``spec.cpu_quota`` each runs in its own cgroup, held to that many cores.
    """
    quotas: list[CpuQuota] = []
    children: list[tuple[subprocess.Popen[bytes], Path]] = []
    with tempfile.TemporaryDirectory(prefix="reelay-bench-pollers-") as tmp:
        try:
            for k in range(spec.pollers):
                out = Path(tmp) / f"poller-{k}.json"
                args = [sys.executable, "-m", "benchmarks.engine_capacity", "--poller", json.dumps(asdict(spec))]
                child = subprocess.Popen([*args, "--poller-id", f"bench-poller-{k}", "--out", str(out)])
                if spec.cpu_quota is not None:
                    quotas.append(CpuQuota(f"reelay-bench-{os.getpid()}-poller-{k}", spec.cpu_quota))
                    quotas[-1].add(child.pid)  # still importing: the measured window is far ahead
                children.append((child, out))
            for child, _ in children:
                child.wait()
            return [json.loads(out.read_text()) for _, out in children]
        finally:
            for child, _ in children:  # a failure part-way must not leave pollers running
                if child.poll() is None:
                    child.kill()
                    child.wait()
            for quota in quotas:
                quota.remove()


def merge_pollers(spec: PollerSpec, results: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for several pollers: rates and counts summed, lags pooled, per-process figures listed."""
    rows = [r["row"] for r in results]
    lags = [lag for r in results for lag in r["lags"]]
    polled = {task for r in results for task in r["polled"]}
    # A poller's own count includes its held jobs it never polled; across pollers a job that moved
    # from one to the other (a lapsed heartbeat under load) is starved only if nobody polled it.
    gap_starved = sum(r["row"]["starved_tasks"] - (r["row"]["jobs"] - len(r["polled"])) for r in results)
    return {
        **rows[0],
        "jobs": spec.jobs,
        "held_per_poller": [r["jobs"] for r in rows],
        "polls": sum(r["polls"] for r in rows),
        "polls_per_s": round(sum(r["polls_per_s"] for r in rows), 1),
        "target_polls_per_s": round(spec.jobs / spec.interval, 1),
        "lag_p50_s": round(percentile(lags, 50), 3),
        "lag_p99_s": round(percentile(lags, 99), 3),
        "lag_max_s": round(max(lags, default=0.0), 3),
        "lateness_p99_s": max(r["lateness_p99_s"] for r in rows),
        "starved_tasks": gap_starved + spec.jobs - len(polled),
        "engine_cpu_pct": round(sum(r["engine_cpu_pct"] for r in rows), 1),
        "engine_cpu_pct_per_poller": [r["engine_cpu_pct"] for r in rows],
        "adopt_s": max(r["adopt_s"] for r in rows),
        "cpu_quota_cores_per_poller": spec.cpu_quota,
        "throttled_in_window_s_per_poller": [r["throttled_in_window_s"] for r in rows],
        "rss_per_job_bytes": round(sum(r["rss_per_job_bytes"] for r in rows) / len(rows)),
    }


def poller_main(spec_json: str, process_id: str, out: Path) -> None:
    """Child process of ``run_pollers``: measure one poller and write its row and lags."""
    quiet_logs()
    spec = PollerSpec(**json.loads(spec_json))
    row, lags, polled = run_on_loop(measure(spec, process_id), spec.event_loop)
    out.write_text(json.dumps({"row": row, "lags": lags, "polled": polled}))


def lags_in_window(recorder: Recorder, interval: float, window: tuple[float, float]) -> list[float]:
    """Gap between consecutive polls of a task minus the interval, for polls inside the window."""
    start, end = window
    return [
        current - previous - interval
        for times in recorder.polls.values()
        for previous, current in itertools.pairwise(times)
        if start <= current <= end
    ]


LATE_S = 0.5  # a step this late against its planned time counts towards ``worst_late_seconds``


def summarize(
    recorder: Recorder, *, jobs_n: int, interval: float, window: tuple[float, float], extra: dict[str, Any]
) -> dict[str, Any]:
    """Lag, lateness, throughput and starvation over the measurement window."""
    start, end = window
    lags: list[float] = []
    polls_in_window = 0
    starved = 0
    for times in recorder.polls.values():
        inside = [t for t in times if start <= t <= end]
        polls_in_window += len(inside)
        for previous, current in itertools.pairwise(times):
            if start <= current <= end:
                lags.append(current - previous - interval)
        # A task is starved if it went more than two intervals in the window without a poll.
        last = max((t for t in times if t < start), default=start - interval)
        gaps = [b - a for a, b in zip([last, *inside], [*inside, end], strict=False)]
        if max(gaps) > 2 * interval:
            starved += 1
    starved += jobs_n - len(recorder.polls)
    lateness = [late for t, late in recorder.lateness if start <= t <= end]
    seconds = end - start
    # When in the window the late steps came: a tail from one burst reads differently from a steady one.
    worst_by_second: dict[int, float] = {}
    for t, late in recorder.lateness:
        if start <= t <= end and late > LATE_S:
            second = int(t - start)
            worst_by_second[second] = max(late, worst_by_second.get(second, 0.0))
    return {
        "jobs": jobs_n,
        "interval_s": interval,
        "window_s": round(seconds, 1),
        "polls": polls_in_window,
        "polls_per_s": round(polls_in_window / seconds, 1),
        "target_polls_per_s": round(jobs_n / interval, 1),
        "lag_p50_s": round(percentile(lags, 50), 3),
        "lag_p99_s": round(percentile(lags, 99), 3),
        "lag_max_s": round(max(lags, default=0.0), 3),
        "lateness_p50_s": round(percentile(lateness, 50), 3),
        "lateness_p99_s": round(percentile(lateness, 99), 3),
        "starved_tasks": starved,
        "seconds_with_steps_late_over_0_5s": len(worst_by_second),
        "worst_late_seconds": [
            [second, round(late, 2)] for second, late in sorted(worst_by_second.items(), key=lambda item: -item[1])[:10]
        ],
        **extra,
    }


def print_row(row: dict[str, Any]) -> None:
    """One line per measurement."""
    print(
        f"jobs={row['jobs']:>6} interval={row['interval_s']:>4}s http={row['http']:<7} "
        f"polls/s={row['polls_per_s']:>7} (want {row['target_polls_per_s']}) "
        f"lag p50/p99/max={row['lag_p50_s']}/{row['lag_p99_s']}/{row['lag_max_s']} s "
        f"late p99={row['lateness_p99_s']} s starved={row['starved_tasks']} "
        f"cpu engine/redis/standin={row['engine_cpu_pct']}/{row['redis_cpu_pct']}/{row['standin_cpu_pct']} % "
        f"rss/job={row['rss_per_job_bytes']} B redis/job={row['redis_bytes_per_job']} B "
        f"adopt={row['adopt_s']} s",
        flush=True,
    )
    if row.get("cpu_quota_cores_per_poller") is not None:
        print(
            f"  each poller held to {row['cpu_quota_cores_per_poller']:g} core; engine CPU per poller "
            f"{row['engine_cpu_pct_per_poller']} %, throttled {row['throttled_in_window_s_per_poller']} s "
            f"of the {row['window_s']} s window",
            flush=True,
        )
    if row.get("worst_late_seconds"):
        late = ", ".join(f"+{second} s: {worst} s" for second, worst in row["worst_late_seconds"])
        print(f"  steps late > 0.5 s in {row['seconds_with_steps_late_over_0_5s']} s of the window; worst: {late}")


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    """Run each requested N in turn against one redis-server and one stand-in."""
    quiet_logs()
    rows = []
    with redis_server() as redis, fake_kie_process() as (kie_url, kie):
        for jobs_n in args.jobs:
            spec = PollerSpec(
                redis.url,
                redis.pid,
                kie_url,
                kie.pid,
                jobs_n,
                args.interval,
                args.rounds,
                args.http,
                args.in_flight,
                args.pollers,
                args.stall_watch,
                args.python_gc,
                args.full_gc_midway,
                args.loop,
                args.cpu_quota,
                not args.no_metrics,
            )
            row = await run(spec, redis)
            print_row(row)
            rows.append(row)
    ok = [r["jobs"] for r in rows if r["lag_p99_s"] < 1.0 and r["starved_tasks"] == 0]
    return {
        "command": "python -m benchmarks.engine_capacity " + " ".join(args.argv),
        "interval_s": args.interval,
        "event_loop": args.loop,
        "http": args.http,
        "rows": rows,
        "largest_jobs_with_lag_p99_under_1s": max(ok, default=0),
    }


def main(argv: list[str] | None = None) -> Path:
    """CLI entry point; returns the JSON result path."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1000, 2000, 5000])
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--rounds", type=float, default=3.0, help="measured intervals after one warm-up interval")
    parser.add_argument(
        "--http", choices=["keepalive", "httpx"], default="keepalive", help="keepalive = ApiClient as shipped"
    )
    parser.add_argument("--in-flight", type=int, default=20, help="poll slots = HTTP pool (product default 20)")
    parser.add_argument("--pollers", type=int, default=1, help="poller processes sharing the jobs")
    parser.add_argument("--poller", default=None, help=argparse.SUPPRESS)  # internal: run one poller child
    parser.add_argument("--poller-id", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--stall-watch", action="store_true", help="report event-loop stalls (> 150 ms) and what held the loop"
    )
    parser.add_argument(
        "--python-gc", action="store_true", help="keep CPython's collector settings (not poller.gc_policy's)"
    )
    parser.add_argument(
        "--no-metrics", action="store_true", help="nobody listens to the core's events (no Prometheus listener)"
    )
    parser.add_argument(
        "--full-gc-midway", action="store_true", help="force one full garbage collection halfway through the window"
    )
    parser.add_argument(
        "--loop", choices=["asyncio", "uvloop"], default="asyncio", help="event loop (asyncio = as shipped)"
    )
    parser.add_argument(
        "--cpu-quota",
        type=float,
        default=None,
        metavar="CORES",
        help="hold each poller process to this many cores (a cgroup quota: Linux, root); pollers run as child "
        "processes then, even one",
    )
    parser.add_argument("--name", default=None, help="result file name (default derived from the options)")
    parser.add_argument("--smoke", action="store_true", help="tiny run: 50 jobs, 1 s (3 s with pollers), 1 round")
    parser.add_argument("--out", type=Path, default=None)
    exit_on_sigterm()
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    args.argv = raw
    if args.poller is not None:
        out: Path = args.out
        poller_main(args.poller, args.poller_id, out)
        return out
    if args.cpu_quota is not None:
        try:
            CpuQuota(f"reelay-bench-{os.getpid()}-probe", args.cpu_quota).remove()
        except (CpuQuotaUnavailable, ValueError) as exc:
            parser.error(f"--cpu-quota: {exc}")
    if args.smoke:
        # Several poller processes get a longer interval: on a busy test machine their start-up alone
        # can hold a 1 s poll back past the two intervals that count as starved.
        args.jobs, args.interval, args.rounds = [50], 1.0 if args.pollers == 1 else 3.0, 1.0
    result = run_on_loop(amain(args), args.loop)
    name = args.name or (
        "engine_capacity_smoke"
        if args.smoke
        else f"engine_capacity_{args.http}_{int(args.interval)}s"
        + (f"_{args.pollers}pollers" if args.pollers > 1 else "")
        + ("_uvloop" if args.loop == "uvloop" else "")
        + (f"_quota{args.cpu_quota:g}" if args.cpu_quota is not None else "")
    )
    path = write_result(name, result, args.out)
    print(json.dumps({"largest_jobs_with_lag_p99_under_1s": result["largest_jobs_with_lag_p99_under_1s"]}))
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
