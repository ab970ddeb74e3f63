"""§6 of issue 17: every delivered video records what it cost at the provider, reported or configured."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from poller.engine import Engine
from poller.jobs import COST_CONFIGURED, COST_REPORTED, JobOptions, JobStatus, TaskKind
from poller.ports import PollResult, TaskState
from storage.redis_jobs import RedisJobStore
from tests.poller.fakes import (
    BytesDownloader,
    MemoryBlobStore,
    RecordingNotifier,
    ScriptedProvider,
    success,
    wait_until,
)
from tests.poller.test_engine import build_engine, create_and_adopt


class Prices:
    """credits.prices for the test: 30 credits for any 8 s generate, nothing configured for extends."""

    def price(self, model: str, duration_s: int, kind: TaskKind = TaskKind.GENERATE) -> int | None:
        return 30 if kind is TaskKind.GENERATE and duration_s == 8 else None


@pytest.fixture
async def priced(fake_redis: aioredis.Redis) -> AsyncIterator[tuple[Engine, RedisJobStore, ScriptedProvider]]:
    provider = ScriptedProvider()
    engine, jobs, _ = build_engine(
        fake_redis, provider, RecordingNotifier(), BytesDownloader(), MemoryBlobStore(), prices=Prices()
    )
    await engine.start()
    yield engine, jobs, provider
    await engine.stop()


async def _delivered(engine: Engine, jobs: RedisJobStore, **changes: object) -> tuple[float | None, str | None]:
    job = await create_and_adopt(engine, jobs, **changes)
    await wait_until(lambda: job.id not in engine.owned, what="the job to end")
    done = await jobs.get(job.id)
    assert done.status is JobStatus.SUCCEEDED
    return done.provider_cost, done.cost_source


async def test_a_cost_the_provider_reports_is_recorded_as_reported(
    priced: tuple[Engine, RedisJobStore, ScriptedProvider],
) -> None:
    engine, jobs, provider = priced
    reported = success()
    provider.poll_script.append(PollResult(TaskState.SUCCEEDED, video_url=reported.video_url, cost=12.5))

    assert await _delivered(engine, jobs) == (12.5, COST_REPORTED)


async def test_without_a_report_the_configured_price_is_recorded(
    priced: tuple[Engine, RedisJobStore, ScriptedProvider],
) -> None:
    engine, jobs, provider = priced
    provider.poll_script.append(success())

    assert await _delivered(engine, jobs) == (30.0, COST_CONFIGURED)


async def test_without_a_report_or_a_price_no_cost_is_invented(
    priced: tuple[Engine, RedisJobStore, ScriptedProvider],
) -> None:
    engine, jobs, provider = priced
    provider.poll_script.append(success())

    assert await _delivered(engine, jobs, options=JobOptions(duration_s=10)) == (None, None)
