"""HeapJobStore keeps APScheduler's job-store contract (the one MemoryJobStore keeps) on a heap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger

from poller.heap_jobstore import SWEEP_SLACK, HeapJobStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def noop() -> None:
    pass


class QuietScheduler(BaseScheduler):  # type: ignore[misc]
    """Just enough of a scheduler to build Job objects."""

    def shutdown(self, wait: bool = True) -> None:
        pass

    def wakeup(self) -> None:
        pass


SCHEDULER = QuietScheduler()


def job(job_id: str, seconds: float | None) -> Job:
    run_at = None if seconds is None else T0 + timedelta(seconds=seconds)
    return Job(
        SCHEDULER,
        id=job_id,
        func=noop,
        trigger=DateTrigger(run_date=run_at or T0, timezone=UTC),
        executor="default",
        args=(),
        kwargs={},
        name=job_id,
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
        next_run_time=run_at,
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture(params=[HeapJobStore, MemoryJobStore], ids=["heap", "memory-reference"])
def store(request: pytest.FixtureRequest) -> Any:
    """The heap store, and APScheduler's own store as the reference the same tests must hold for."""
    return request.param()


def ids(jobs: list[Job]) -> list[str]:
    return [j.id for j in jobs]


def test_due_jobs_come_earliest_first_and_stay_stored(store: Any) -> None:
    for name, seconds in [("c", 30), ("a", 10), ("b", 20), ("later", 100)]:
        store.add_job(job(name, seconds))
    assert ids(store.get_due_jobs(at(30))) == ["a", "b", "c"]
    assert ids(store.get_due_jobs(at(30))) == ["a", "b", "c"]  # asking twice changes nothing
    assert store.get_next_run_time() == at(10)


def test_update_moves_a_job_and_remove_forgets_it(store: Any) -> None:
    store.add_job(job("a", 10))
    store.add_job(job("b", 20))
    store.update_job(job("a", 50))
    assert ids(store.get_due_jobs(at(30))) == ["b"]
    assert store.get_next_run_time() == at(20)
    store.remove_job("b")
    assert store.get_next_run_time() == at(50)
    assert store.lookup_job("b") is None
    assert store.lookup_job("a").next_run_time == at(50)
    assert ids(store.get_all_jobs()) == ["a"]


def test_paused_jobs_are_never_due_and_listed_last(store: Any) -> None:
    store.add_job(job("paused", None))
    store.add_job(job("a", 10))
    assert ids(store.get_due_jobs(at(1000))) == ["a"]
    assert ids(store.get_all_jobs()) == ["a", "paused"]
    store.remove_job("a")
    assert store.get_next_run_time() is None


def test_contract_errors(store: Any) -> None:
    store.add_job(job("a", 10))
    with pytest.raises(ConflictingIdError):
        store.add_job(job("a", 20))
    with pytest.raises(JobLookupError):
        store.update_job(job("zz", 20))
    with pytest.raises(JobLookupError):
        store.remove_job("zz")
    store.remove_all_jobs()
    assert store.get_all_jobs() == []
    assert store.get_next_run_time() is None


def test_stale_heap_entries_are_swept_so_the_heap_stays_bounded() -> None:
    store = HeapJobStore()
    for i in range(100):
        store.add_job(job(f"j{i}", 1000 + i))
    for round_ in range(50):  # every job rescheduled 50 times: 5,000 stale entries without a sweep
        for i in range(100):
            store.update_job(job(f"j{i}", 2000 + round_ * 100 + i))
    assert len(store._heap) <= 2 * 100 + SWEEP_SLACK
    assert ids(store.get_due_jobs(at(2000 + 49 * 100 + 1))) == ["j0", "j1"]


def test_park_due_takes_the_parkable_due_jobs_out_and_leaves_the_rest_due() -> None:
    store = HeapJobStore()
    for job_id, seconds in [("task-b", 2), ("other", 1), ("task-a", 1.5), ("task-later", 10)]:
        store.add_job(job(job_id, seconds))

    parked = store.park_due(at(5).timestamp(), lambda j: j.id.startswith("task-"))

    assert ids(parked) == ["task-a", "task-b"]  # earliest first
    assert all(j.next_run_time is None for j in parked)
    assert ids(store.get_due_jobs(at(5))) == ["other"]  # not parkable: still due, for the stock pass
    assert store.lookup_job("task-a") is parked[0]  # parked jobs stay stored
    assert ids(store.get_due_jobs(at(100))) == ["other", "task-later"]  # parked ones are never due
    store.update_job(job("task-a", 20))  # moved again (what run_at does)
    assert ids(store.get_due_jobs(at(100))) == ["other", "task-later", "task-a"]
