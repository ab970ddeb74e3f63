"""EngineScheduler: jobs run at their time, and adding a job behind the armed timer costs no extra pass."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uvloop  # a dev dependency: this test must run, never skip
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED

from poller.heap_jobstore import HeapJobStore
from poller.scheduler import EngineScheduler


@pytest.fixture
async def scheduler() -> AsyncIterator[EngineScheduler]:
    sched = EngineScheduler(timezone=UTC, job_defaults={"misfire_grace_time": None, "coalesce": True})
    sched.start()
    yield sched
    sched.shutdown(wait=False)


class Passes:
    """Counts the scheduler's job-processing passes."""

    def __init__(self, scheduler: EngineScheduler) -> None:
        self.count = 0
        original = scheduler._process_jobs

        def counted() -> float | None:
            self.count += 1
            result: float | None = original()
            return result

        scheduler._process_jobs = counted


async def test_jobs_due_after_the_armed_timer_add_no_pass_and_still_run_in_order(scheduler: EngineScheduler) -> None:
    ran: list[str] = []
    all_done = asyncio.Event()

    async def record(name: str) -> None:
        ran.append(name)
        if len(ran) == 51:
            all_done.set()

    # Times far enough apart that a loaded machine cannot let the timer fire before the check.
    scheduler.run_at(record, "first", time.time() + 1.0, "first")
    await asyncio.sleep(0.05)  # the pass for "first" arms the timer
    passes = Passes(scheduler)
    for i in range(50):
        scheduler.run_at(record, f"later-{i}", time.time() + 1.5 + i / 1000, f"later-{i}")
    await asyncio.sleep(0)  # give any needless wakeups their loop turn
    assert passes.count == 0

    async with asyncio.timeout(10):
        await all_done.wait()
    assert ran == ["first", *[f"later-{i}" for i in range(50)]]


async def test_a_job_due_before_the_armed_timer_wakes_the_scheduler(scheduler: EngineScheduler) -> None:
    done = asyncio.Event()

    async def noop() -> None:
        pass

    async def mark() -> None:
        done.set()

    scheduler.run_at(noop, "far", time.time() + 3600)
    await asyncio.sleep(0.05)
    scheduler.run_at(mark, "soon", time.time() + 0.05)
    async with asyncio.timeout(10):  # without a wakeup it would wait for the one-hour timer
        await done.wait()


async def test_run_at_replaces_the_pending_run_of_the_same_id(scheduler: EngineScheduler) -> None:
    calls: list[str] = []
    done = asyncio.Event()

    async def record(tag: str) -> None:
        calls.append(tag)
        done.set()

    scheduler.run_at(record, "job", time.time() + 3600, "old")
    first = scheduler.get_job("job")
    scheduler.run_at(record, "job", time.time() + 0.05, "new")
    assert scheduler.get_job("job") is not first  # other arguments: a new job, not the old one moved
    async with asyncio.timeout(10):
        await done.wait()
    assert calls == ["new"]


async def test_a_task_keeps_one_job_parked_between_runs_and_run_at_moves_it(scheduler: EngineScheduler) -> None:
    runs: list[float] = []
    ran = asyncio.Event()

    async def step(tag: str) -> None:
        runs.append(time.time())
        ran.set()

    scheduler.run_at(step, "task", time.time() + 0.02, "task")
    job = scheduler.get_job("task")
    async with asyncio.timeout(10):
        await ran.wait()
    # After its run the job stays stored, parked (paused), waiting for the engine's next time.
    assert scheduler.get_job("task") is job
    assert job.next_run_time is None
    assert scheduler._store.get_next_run_time() is None  # nothing of it left in the store's heap

    ran.clear()
    scheduler.run_at(step, "task", time.time() + 0.02, "task")
    assert scheduler.get_job("task") is job  # moved, not rebuilt
    async with asyncio.timeout(10):
        await ran.wait()
    assert len(runs) == 2
    await asyncio.sleep(0.1)
    assert len(runs) == 2  # parked again: no run until the next run_at

    job.remove()  # what Engine.forget does
    assert scheduler.get_job("task") is None


async def test_later_tasks_of_a_step_get_jobs_like_the_first_and_all_run(scheduler: EngineScheduler) -> None:
    ran: list[str] = []

    async def step(task_id: str) -> None:
        ran.append(task_id)

    built: list[str] = []
    add_job = scheduler.add_job

    def counted_add_job(*args: Any, **kwargs: Any) -> Any:
        built.append(kwargs["id"])
        return add_job(*args, **kwargs)

    scheduler.add_job = counted_add_job
    due = time.time() + 0.05
    for i in range(3):
        scheduler.run_at(step, f"task-{i}", due + i / 100, f"task-{i}")
    assert built == ["task-0"]  # only the first job went through APScheduler's building and validation
    first, *others = (scheduler.get_job(f"task-{i}") for i in range(3))
    for i, job in enumerate(others, start=1):
        assert job is not first
        assert (job.id, job.args) == (f"task-{i}", (f"task-{i}",))
        settings = ("func", "trigger", "executor", "name", "misfire_grace_time", "coalesce", "max_instances")
        assert [getattr(job, name) for name in settings] == [getattr(first, name) for name in settings]
    async with asyncio.timeout(10):
        while len(ran) < 3:  # noqa: ASYNC110 (polling a plain list)
            await asyncio.sleep(0.01)
    assert ran == ["task-0", "task-1", "task-2"]


async def test_a_failing_step_is_logged_and_its_task_runs_again_when_moved(
    scheduler: EngineScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[str] = []
    ran = asyncio.Event()

    async def step(task_id: str) -> None:
        runs.append(task_id)
        ran.set()
        if len(runs) == 1:
            raise RuntimeError("boom")

    scheduler.run_at(step, "task", time.time() + 0.02, "task")
    async with asyncio.timeout(10):
        await ran.wait()
    await asyncio.sleep(0.01)
    assert [r.exc_info[1].args for r in caplog.records if r.exc_info and r.exc_info[1]] == [("boom",)]
    assert "raised an exception" in caplog.text

    ran.clear()
    scheduler.run_at(step, "task", time.time() + 0.02, "task")
    async with asyncio.timeout(10):
        await ran.wait()
    assert runs == ["task", "task"]


async def test_shutdown_cancels_the_steps_still_running() -> None:
    scheduler = EngineScheduler(timezone=UTC, job_defaults={"misfire_grace_time": None, "coalesce": True})
    scheduler.start()
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow_step() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    scheduler.run_at(slow_step, "task", time.time() + 0.02)
    async with asyncio.timeout(10):
        await started.wait()
    scheduler.shutdown(wait=False)  # as APScheduler's executor cancels its running coroutine jobs
    async with asyncio.timeout(10):
        await cancelled.wait()


async def test_with_an_event_listener_task_jobs_run_through_apschedulers_executor(scheduler: EngineScheduler) -> None:
    events: list[tuple[int, str]] = []
    ran = asyncio.Event()
    scheduler.add_listener(
        lambda event: events.append((event.code, event.job_id)), EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED
    )

    async def step() -> None:
        ran.set()

    scheduler.run_at(step, "task", time.time() + 0.02)
    async with asyncio.timeout(10):
        await ran.wait()
        while len(events) < 2:  # noqa: ASYNC110 (polling a plain list)
            await asyncio.sleep(0.01)
    assert events == [(EVENT_JOB_SUBMITTED, "task"), (EVENT_JOB_EXECUTED, "task")]
    assert scheduler.get_job("task").next_run_time is None  # parked all the same


async def test_a_wakeup_from_another_thread_reaches_the_loop(scheduler: EngineScheduler) -> None:
    passes = Passes(scheduler)
    await asyncio.to_thread(scheduler.wakeup)
    async with asyncio.timeout(10):
        while passes.count == 0:  # noqa: ASYNC110 (polling a plain counter)
            await asyncio.sleep(0.01)


async def test_other_jobs_keep_apschedulers_own_pass_next_to_task_jobs(scheduler: EngineScheduler) -> None:
    ticks: list[float] = []
    steps: list[str] = []

    async def tick() -> None:
        ticks.append(time.time())

    async def step(task_id: str) -> None:
        steps.append(task_id)

    scheduler.add_job(tick, "interval", seconds=0.05, id="sweeper")
    for i in range(20):
        scheduler.run_at(step, f"task-{i}", time.time() + i / 100, f"task-{i}")
    await asyncio.sleep(0.5)
    assert sorted(steps) == sorted(f"task-{i}" for i in range(20))
    assert len(ticks) >= 3  # the interval job keeps its own trigger and keeps running
    assert scheduler.get_job("sweeper").next_run_time is not None


async def test_task_jobs_bypass_the_executor_and_on_loop_wakeups_skip_the_self_pipe(
    scheduler: EngineScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    executor = scheduler._lookup_executor("default")
    submitted: list[str] = []
    submit_job = executor.submit_job
    monkeypatch.setattr(
        executor, "submit_job", lambda job, run_times: (submitted.append(job.id), submit_job(job, run_times))
    )
    loop = asyncio.get_running_loop()
    threadsafe: list[object] = []
    call_soon_threadsafe = loop.call_soon_threadsafe
    monkeypatch.setattr(
        loop, "call_soon_threadsafe", lambda *a, **k: (threadsafe.append(a), call_soon_threadsafe(*a, **k))[1]
    )
    ran = asyncio.Event()
    ticked = asyncio.Event()

    async def step() -> None:
        ran.set()

    async def tick() -> None:
        ticked.set()

    scheduler.run_at(step, "task", time.time() + 0.02)
    scheduler.add_job(tick, "date", run_date=datetime.now(UTC), id="other")
    async with asyncio.timeout(10):
        await ran.wait()
        await ticked.wait()
    assert submitted == ["other"]  # the task's step ran without APScheduler's executor; other jobs still use it
    assert threadsafe == []  # wakeups from the loop itself went through call_soon


def test_the_scheduler_refuses_other_job_stores() -> None:
    with pytest.raises(TypeError, match="HeapJobStore"):
        EngineScheduler(jobstores={"default": HeapJobStore()})


async def test_wakeups_needed_in_one_loop_turn_share_one_pass(scheduler: EngineScheduler) -> None:
    ran: list[int] = []

    async def record(i: int) -> None:
        ran.append(i)

    await asyncio.sleep(0.05)  # nothing scheduled yet: no timer is armed, so every add needs a wakeup
    passes = Passes(scheduler)
    for i in range(100):
        scheduler.run_at(record, f"job-{i}", time.time() + 1.0 + i / 10_000, i)  # due long after the check
    await asyncio.sleep(0.01)
    assert passes.count == 1

    async with asyncio.timeout(10):
        while len(ran) < 100:  # noqa: ASYNC110 (polling a plain list)
            await asyncio.sleep(0.01)
    assert ran == list(range(100))


def test_run_at_works_when_uvloop_armed_a_sub_millisecond_timer() -> None:
    """uvloop returns a plain Handle (no ``when()``) for a ``call_later`` under 1 ms; run_at must cope."""

    async def scenario() -> None:
        scheduler = EngineScheduler(timezone=UTC, job_defaults={"misfire_grace_time": None, "coalesce": True})
        scheduler.start()
        try:
            loop = asyncio.get_running_loop()
            scheduler._timeout = loop.call_later(0.0001, scheduler.wakeup)  # what _start_timer arms for a tiny wait
            assert not hasattr(scheduler._timeout, "when")
            done = asyncio.Event()

            async def mark() -> None:
                done.set()

            scheduler.run_at(mark, "job", time.time() + 0.05)
            async with asyncio.timeout(10):
                await done.wait()
        finally:
            scheduler.shutdown(wait=False)

    uvloop.run(scenario())
