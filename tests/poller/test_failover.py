"""Failover: a refused submit moves the job to the operator's next fallback model, never after a task may exist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from poller.engine import Engine
from poller.errors import ErrorCode, JobError
from poller.jobs import Job, JobOptions, JobStatus, TaskKind
from poller.schedule import PollPolicy
from providers.catalog import Catalog
from providers.failover import CatalogFailover
from storage.redis_jobs import RedisJobStore
from tests.poller.fakes import (
    BytesDownloader,
    MemoryBlobStore,
    RecordingBilling,
    RecordingNotifier,
    ScriptedProvider,
    success,
)
from tests.poller.test_engine import build_engine, create_and_adopt, wait_until

POLICY = PollPolicy(interval_s=0.01, max_attempts=5, jitter=0, first_poll_s=0, delayed_interval_s=60, submit_attempts=3)
CATALOG = Catalog(enabled=["veo3_fast", "veo3", "veo3_lite", "bytedance/seedance-2", "bytedance/v1-pro-text-to-video"])
FALLBACKS = {"veo3_fast": ["veo3_lite", "veo3"]}


def down(raw: str = "HTTP 455, code 455: maintenance") -> JobError:
    return JobError(ErrorCode.PROVIDER_UNAVAILABLE, raw, provider_down=True)


@dataclass
class World:
    engine: Engine
    jobs: RedisJobStore
    provider: ScriptedProvider
    notifier: RecordingNotifier

    async def run(self, **changes: object) -> Job:
        job = await create_and_adopt(self.engine, self.jobs, model="veo3_fast", cost=10, **changes)
        await wait_until(lambda: job.id not in self.engine.owned, what="the job to end")
        return await self.jobs.get(job.id)


@pytest.fixture
async def world(fake_redis: aioredis.Redis) -> AsyncIterator[World]:
    provider, notifier = ScriptedProvider(), RecordingNotifier()
    provider.default = success()
    engine, jobs, _ = build_engine(
        fake_redis, provider, notifier, BytesDownloader(), MemoryBlobStore(), POLICY, billing=RecordingBilling()
    )
    engine._failover = CatalogFailover(FALLBACKS, CATALOG)
    await engine.start()
    yield World(engine, jobs, provider, notifier)
    await engine.stop()


async def test_a_provider_down_moves_the_job_at_once_and_keeps_its_price(world: World) -> None:
    world.provider.submit_script.append(down())

    done = await world.run()

    assert done.status is JobStatus.SUCCEEDED
    assert [request.model for request in world.provider.submits] == ["veo3_fast", "veo3_lite"]
    assert (done.model, done.requested_model, done.cost) == ("veo3_lite", "veo3_fast", 10)
    [refused] = done.refused_submits
    assert (refused.model, refused.error, refused.raw) == ("veo3_fast", "provider_unavailable", down().raw)


async def test_server_trouble_is_retried_first_then_fails_over(world: World) -> None:
    world.provider.submit_script.extend(JobError(ErrorCode.PROVIDER_UNAVAILABLE, "HTTP 502") for _ in range(3))

    done = await world.run()

    assert [request.model for request in world.provider.submits] == ["veo3_fast"] * 3 + ["veo3_lite"]
    assert done.status is JobStatus.SUCCEEDED
    assert done.model == "veo3_lite"


async def test_every_fallback_is_tried_in_order_and_the_last_one_is_retried_before_the_job_fails(world: World) -> None:
    world.provider.submit_script.extend([down()] * 5)

    done = await world.run()

    assert [request.model for request in world.provider.submits] == ["veo3_fast", "veo3_lite", "veo3", "veo3", "veo3"]
    assert done.status is JobStatus.FAILED
    assert done.error_code is ErrorCode.PROVIDER_ERROR
    assert [step.model for step in done.refused_submits] == ["veo3_fast", "veo3_lite"]


@pytest.mark.parametrize(
    "error",
    [
        JobError(ErrorCode.PROVIDER_UNAVAILABLE, "timed out after sending", outcome_unknown=True),
        JobError(ErrorCode.PROVIDER_UNAVAILABLE, "malformed 200: no taskId", outcome_unknown=True),
        JobError(ErrorCode.INVALID_INPUT, "prompt refused"),
        JobError(ErrorCode.INSUFFICIENT_CREDITS, "402"),
    ],
    ids=["timeout-after-send", "malformed-accept", "invalid-input", "out-of-credits"],
)
async def test_an_unknown_outcome_or_a_verdict_never_fails_over(world: World, error: JobError) -> None:
    world.provider.submit_script.append(error)

    done = await world.run()

    assert [request.model for request in world.provider.submits] == ["veo3_fast"]
    assert done.status is JobStatus.FAILED
    assert (done.model, done.requested_model, done.refused_submits) == ("veo3_fast", None, ())


async def test_a_fallback_that_cannot_take_the_photos_is_skipped(world: World) -> None:
    world.provider.submit_script.append(down())
    frames = JobOptions(image_url="https://s3.example/in.jpg", last_image_url="https://s3.example/in2.jpg")

    done = await world.run(options=frames)

    assert [request.model for request in world.provider.submits] == ["veo3_fast", "veo3"]  # Lite takes no last frame
    assert done.model == "veo3"


async def test_an_extension_never_fails_over(world: World) -> None:
    parent = await world.run()
    world.provider.submit_script.clear()
    child = await create_and_adopt(
        world.engine, world.jobs, model="veo3_fast", parent_id=parent.id, kind=TaskKind.EXTEND, prompt="more"
    )
    world.provider.extend_errors.append(down())
    await wait_until(lambda: child.id not in world.engine.owned, what="the extension to end")

    done = await world.jobs.get(child.id)
    assert len(world.provider.extends) == 2, "retried at the provider that made the parent"
    assert (done.status, done.model, done.refused_submits) == (JobStatus.SUCCEEDED, "veo3_fast", ())


async def test_without_fallbacks_a_provider_down_is_retried_like_any_refusal(world: World) -> None:
    world.engine._failover = None
    world.provider.submit_script.append(down())

    done = await world.run()

    assert [request.model for request in world.provider.submits] == ["veo3_fast", "veo3_fast"]
    assert done.status is JobStatus.SUCCEEDED


def test_the_status_message_says_so_once_failover_moved_the_job() -> None:
    from bot import texts
    from bot.i18n import ENGLISH

    assert texts.failed_over(ENGLISH, "Veo 3.1 Fast", "kie_veo", "Veo 3 Fast · fal") == (
        "Veo 3.1 Fast is busy at KIE; making it with Veo 3 Fast · fal instead."
    )


async def test_the_job_api_shows_the_model_asked_for_and_the_one_that_ran(world: World) -> None:
    from bot.http.api import job_json

    world.provider.submit_script.append(down())
    shown = job_json(await world.run())

    assert (shown["model"], shown["requestedModel"], shown["kind"]) == ("veo3_lite", "veo3_fast", "generate")
