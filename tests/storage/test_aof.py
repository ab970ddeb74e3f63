"""Redis as run in production (AOF, ``appendfsync everysec``): a SIGKILL loses no job acknowledged
more than a second earlier, and the stores keep working on the restarted server."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest
import redis
import redis.asyncio as aioredis

from poller.jobs import JobStatus
from storage.leases import RedisLeases
from storage.redis_jobs import RedisJobStore
from tests.fixtures.redis_server import RedisServer
from tests.storage.factories import make_job, make_session

pytestmark = pytest.mark.integration

# appendfsync everysec: what was acknowledged more than this long ago is on disk.
_FSYNC_WINDOW_S = 1.0


async def test_jobs_acknowledged_before_the_fsync_window_survive_a_sigkill(aof_redis_server: RedisServer) -> None:
    client = aioredis.from_url(aof_redis_server.url, decode_responses=True)
    try:
        assert (await client.config_get("appendonly"))["appendonly"] == "yes"
        store = RedisJobStore(client)
        leases = RedisLeases(client)
        durable = [make_job(status=JobStatus.RUNNING) for _ in range(200)]
        for job in durable:
            await store.create(job, make_session(job))
        await leases.acquire(durable[0].id, "p1", expected_owner="")
        await store.transition(durable[1].id, JobStatus.DELAYED)
        acknowledged_at = time.monotonic()
        # The precondition of the guarantee, not an assertion: let the fsync window pass.
        await asyncio.sleep(max(0.0, acknowledged_at + _FSYNC_WINDOW_S + 0.2 - time.monotonic()))
        in_flight = make_job(status=JobStatus.RUNNING)
        await store.create(in_flight, make_session(in_flight))  # may or may not survive: not checked

        aof_redis_server.kill()
        aof_redis_server.start()
        with contextlib.suppress(redis.ConnectionError):
            await client.ping()  # the pooled connection died with the server

        stored = await store.get_many([job.id for job in durable])
        assert [job.id for job in stored] == [job.id for job in durable]
        assert set(await store.active_job_ids()) >= {job.id for job in durable}
        assert stored[0].owner == "p1"
        assert await store.delayed_job_ids() == [durable[1].id]
        moved = await store.transition(durable[2].id, JobStatus.DELIVERING)  # scripts load again
        assert moved.status is JobStatus.DELIVERING
    finally:
        await client.aclose()


async def test_a_server_without_aof_loses_everything_on_sigkill(make_redis_server: Callable[..., RedisServer]) -> None:
    # The control: the same kill without AOF, so the test above proves AOF and not luck.
    server = make_redis_server(aof=False)
    client = aioredis.from_url(server.url, decode_responses=True)
    try:
        store = RedisJobStore(client)
        job = make_job(status=JobStatus.RUNNING)
        await store.create(job, make_session(job))

        server.kill()
        server.start()
        with contextlib.suppress(redis.ConnectionError):
            await client.ping()

        assert await store.get_many([job.id]) == []
    finally:
        await client.aclose()
