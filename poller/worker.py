"""The worker: what ``reelay poller`` runs. It holds leases, adopts orphaned jobs and feeds the engine.

Any number of workers share one Redis. Each job is held by one worker at a time: the job's ``owner``
field names the worker, and the lease lasts as long as that worker's heartbeat. A worker that dies
stops renewing it; within ``lease_s`` its heartbeat lapses and the next adoption scan of any other
worker (every ``lease_s / 2``) takes its jobs over, so an orphan waits at most about 1.5 leases.

New jobs are announced on the event bus and claimed by whichever worker is first (a compare-and-set on
the owner field, so exactly one wins). Notices are hints: the periodic scan finds anything a lost notice
missed. A clean stop gives every lease back and asks the others to adopt at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import zlib
from collections.abc import Awaitable, Callable

import structlog

from poller.engine import Engine
from poller.errors import JobNotFound
from poller.ports import EventBus, JobOwnership, JobStore, Leases, ProcessReport
from poller.version import VERSION

log = structlog.get_logger(__name__)

NEW_JOB = "new"
POKE = "poke"
REBALANCE = "rebalance"


class Worker:
    """Leases, adoption and notices around one :class:`Engine`."""

    def __init__(
        self,
        *,
        engine: Engine,
        jobs: JobStore,
        leases: Leases,
        events: EventBus,
        lease_s: float,
        on_tick: Callable[[], Awaitable[object]] | None = None,
        shutdown_grace_s: float = 30.0,
        role: str = "",
    ) -> None:
        self.engine = engine
        self.process_id = engine.process_id
        self._jobs = jobs
        self._leases = leases
        self._events = events
        self.lease_s = lease_s
        self._on_tick = on_tick
        self._grace_s = shutdown_grace_s
        self._scan_now = asyncio.Event()
        self._stopping = asyncio.Event()
        self._fair_share = math.inf
        self._others_live = False
        self._tasks: list[asyncio.Task[None]] = []
        self.adopted_total = 0
        self._role = role
        self._started_at = time.time()

    def report(self) -> ProcessReport:
        """What this worker's heartbeat tells operators: the jobs it holds, its role and version."""
        return ProcessReport(
            held_jobs=len(self.engine.owned), role=self._role, version=VERSION, started_at=self._started_at
        )

    async def start(self) -> None:
        """Announce this worker, start the engine, and adopt what is waiting."""
        await self._leases.heartbeat(self.process_id, self.lease_s, self.report())
        await self.engine.start()
        self._tasks = [
            asyncio.create_task(self._heartbeat_loop(), name="worker-heartbeat"),
            asyncio.create_task(self._listen_loop(), name="worker-events"),
            asyncio.create_task(self._scan_loop(), name="worker-scan"),
        ]
        log.info("worker.started", process_id=self.process_id, lease_s=self.lease_s)

    async def stop(self) -> None:
        """Finish running steps, give every lease back, and ask the other workers to adopt at once."""
        # The flag ends the loops even if a library swallows the cancellation (seen with a loop that
        # kept scanning after cancel()); the bounded wait keeps a stuck loop from holding up shutdown.
        self._stopping.set()
        self._scan_now.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=5)
            if stuck:
                log.warning("worker.loops_stuck", loops=sorted(t.get_name() for t in stuck))
        await self.engine.stop(self._grace_s)
        held = sorted(self.engine.owned)
        try:
            released = await self._leases.release(held, self.process_id)
            await self._leases.retire(self.process_id)
            if released:
                await self._events.publish(REBALANCE)
        except Exception:
            # Redis is gone: the heartbeat lapses by itself and the others adopt after the lease.
            log.warning("worker.release_failed", held=len(held), exc_info=True)
            released = 0
        log.info("worker.stopped", process_id=self.process_id, released=released)

    # ------------------------------------------------------------------ adoption

    async def scan(self) -> int:
        """Adopt orphaned jobs up to this worker's fair share; return how many were adopted.

        Only jobs not scheduled here are read: one this worker holds needs no scan (its next step reads
        the job and sees a lost lease or an end), and reading all of them every ``lease_s / 2`` cost a
        lone poller with 120,000 jobs ~0.6 s of CPU per scan, which showed as lag at full load.
        """
        live = set(await self._leases.live_processes()) | {self.process_id}
        ids = await self._jobs.active_job_ids()
        held_here = self.engine.owned  # read with no await in between: no copy needed (240k ids: 40 ms)
        ownership = await self._leases.ownership([job_id for job_id in ids if job_id not in held_here])
        active = [o for o in ownership if o.status is not None and not o.status.terminal]
        for stale in (o for o in ownership if o.status is None or o.status.terminal):
            await self._jobs.heal_index(stale.job_id)  # a crash between a transition and its index upkeep
        active_total = len(active) + len(ids) - len(ownership)
        self._fair_share = math.ceil(active_total / len(live)) if active_total else math.inf
        # Alone, a worker takes every new job: its share from the last scan is stale by design.
        self._others_live = len(live) > 1
        owned = self.engine.owned
        # Held in Redis but not scheduled here (a restart under the same id, or a crashed step): heal.
        self.engine.adopt_many(o for o in active if o.owner == self.process_id and o.job_id not in owned)
        rank = sorted(live).index(self.process_id)
        orphans = _in_adoption_order([o for o in active if o.owner not in live], rank, len(live))
        room = max(0, int(self._fair_share) - len(owned)) if active_total else 0
        # Above the fair share, still take a slice: orphans must never wait on a worker that lags behind.
        quota = max(room, math.ceil(len(orphans) / len(live)))
        won = await self._leases.acquire_many([(o.job_id, o.owner) for o in orphans[:quota]], self.process_id)
        self.engine.adopt_many(won)
        adopted = len(won)
        if adopted:
            log.info("worker.adopted", adopted=adopted, orphans=len(orphans), held=len(self.engine.owned))
        self.adopted_total += adopted
        return adopted

    async def claim_new(self, job_id: str) -> bool:
        """Try to take a newly announced job; False when another worker was first (or we are full)."""
        if self._others_live and len(self.engine.owned) > self._fair_share + 1:
            # Let a less busy worker have it; the share may be stale, so rescan soon either way.
            self._scan_now.set()
            return False
        if not await self._leases.acquire(job_id, self.process_id, ""):
            return False
        try:
            job = await self._jobs.get(job_id)
        except JobNotFound:
            return True  # ended and expired already: nothing to schedule
        self.engine.adopt(job)
        return True

    # ------------------------------------------------------------------ loops

    async def _heartbeat_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self._leases.heartbeat(self.process_id, self.lease_s, self.report())
            except Exception:
                log.warning("worker.heartbeat_failed", exc_info=True)

    async def _scan_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.scan()
                if self._on_tick is not None:
                    await self._on_tick()
            except Exception:
                log.warning("worker.scan_failed", exc_info=True)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
            # lands as its timeout fires, which left this loop running after stop() cancelled it.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.lease_s / 2):
                    await self._scan_now.wait()
            self._scan_now.clear()

    async def _listen_loop(self) -> None:
        async for kind, job_id in self._events.listen(self._stopping):
            if self._stopping.is_set():
                return
            try:
                if kind == NEW_JOB and job_id:
                    await self.claim_new(job_id)
                elif kind == POKE and job_id:
                    self.engine.poll_now(job_id)
                elif kind == REBALANCE:
                    self._scan_now.set()
            except Exception:
                log.warning("worker.notice_failed", kind=kind, job_id=job_id, exc_info=True)


def _in_adoption_order(orphans: list[JobOwnership], rank: int, workers: int) -> list[JobOwnership]:
    """The orphans in the order this worker reaches for them: first those whose id hashes to its rank among the
    live workers (lowest hash first), then the others' from the far end (highest hash first).

    Workers that scan at once (a fleet restart, the survivors of a crash) see the same live set: each takes its
    own part from the front, and what one cannot fit under its share is the end of its part, which the others
    reach for first. So one scan adopts every job, evenly split. Picked at random instead, their picks
    overlapped: the first scans left a third of the jobs orphaned and split the rest 15,000 / 21,000 of 36,000,
    and the busier poller set the pace for both.
    """
    if workers == 1:
        return orphans  # all its own; the order does not matter

    def place(orphan: JobOwnership) -> int:
        crc = zlib.crc32(orphan.job_id.encode())
        return crc if crc % workers == rank else (1 << 33) - crc  # the others' after its own, far end first

    return sorted(orphans, key=place)  # one pass: 100,000 orphans in ≈ 50 ms
