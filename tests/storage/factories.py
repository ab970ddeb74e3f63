"""Test data for the storage tests: jobs and sessions as a bot handler would make them."""

from __future__ import annotations

import itertools
import time
from typing import Any

from poller.jobs import Job, JobStatus
from poller.ports import Session
from storage.redis_jobs import RedisJobStore

_ids = itertools.count(1)


def make_job(*, user_id: int = 42, status: JobStatus = JobStatus.QUEUED, **changes: Any) -> Job:
    """A job with a fresh id, created a little after the previous one."""
    # In the past, and growing with every call: creation order is index order.
    created = time.time() - 3600 + next(_ids) * 0.001
    base = Job(
        id=f"job-{next(_ids)}",
        user_id=user_id,
        chat_id=user_id + 1000,
        model="veo3_fast",
        prompt="a cat on a skateboard",
        status=status,
        created_at=created,
        updated_at=created,
    )
    return base.replace(**changes)


def make_session(job: Job, **changes: Any) -> Session:
    """The session a bot handler would store with ``job``."""
    values: dict[str, Any] = {
        "chat_id": job.chat_id,
        "user_id": job.user_id,
        "status_message_id": 7,
        "language": "en",
        "settings": {"model": job.model, "aspect_ratio": "16:9"},
    }
    values.update(changes)
    return Session(**values)


async def create_in(store: RedisJobStore, status: JobStatus = JobStatus.QUEUED, **changes: Any) -> Job:
    """Create a job directly in ``status`` and return it."""
    job = make_job(status=status, **changes)
    await store.create(job, make_session(job))
    return job
