"""A provider callback's body is read for one thing only: the cost it reports (KIE's 4K creditsConsumed)."""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from bot.http.callback_cost import record_reported_cost
from poller.jobs import Job, TaskKind
from poller.ports import Session
from storage.redis_jobs import RedisJobStore

FOUR_K_DONE = {
    "code": 200,
    "msg": "4K Video generated successfully.",
    "data": {
        "taskId": "veo_task_x",
        "info": {"resultUrls": ["https://evil.example/other.mp4"], "imageUrls": []},
        "creditsConsumed": 120,
    },
}


async def test_the_reported_cost_is_kept_and_nothing_else_of_the_body(fake_redis: aioredis.Redis) -> None:
    jobs = RedisJobStore(fake_redis, history_ttl_s=3600)
    job = Job(
        id="Upgrade1234",
        user_id=1,
        chat_id=1,
        model="veo3",
        prompt="p",
        parent_id="Parent1234",
        kind=TaskKind.UPSCALE_4K,
    )
    await jobs.create(job, Session(chat_id=1, user_id=1))

    cost = await record_reported_cost(jobs, job.id, json.dumps(FOUR_K_DONE).encode())

    stored = await jobs.get(job.id)
    assert cost == stored.provider_cost == 120.0
    assert stored.result_url is None, "the callback's URL is never taken"


async def test_a_body_without_a_cost_or_not_json_or_for_a_vanished_job_changes_nothing(
    fake_redis: aioredis.Redis,
) -> None:
    jobs = RedisJobStore(fake_redis, history_ttl_s=3600)
    job = Job(id="Video123456", user_id=1, chat_id=1, model="veo3", prompt="p")
    await jobs.create(job, Session(chat_id=1, user_id=1))

    no_cost = {"code": 200, "data": {"taskId": "t", "info": {"resultUrls": ["https://x/v.mp4"]}}}
    assert await record_reported_cost(jobs, job.id, json.dumps(no_cost).encode()) is None
    assert await record_reported_cost(jobs, job.id, b"{not json") is None
    assert await record_reported_cost(jobs, "Vanished1234", json.dumps(FOUR_K_DONE).encode()) is None
    assert (await jobs.get(job.id)).provider_cost is None
