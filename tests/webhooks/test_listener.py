"""The listener on the core's reports: created and ended jobs become events once per job and target, a finished
video a chat notice; the engine's per-poll reports skip it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from poller.events import JobSource, Listeners, NoEvents
from poller.jobs import Job, JobStatus
from storage.webhook_outbox import WebhookOutbox
from tests.storage.factories import make_job
from webhooks.listener import WebhookListener
from webhooks.publisher import Callback, Endpoint, WebhookPublisher

pytestmark = pytest.mark.integration

ENDPOINT = Endpoint("https://hooks.test/all", "whsec_unused", frozenset({"job.created", "job.succeeded", "job.failed"}))


def job_json(job: Job) -> dict[str, Any]:
    video = {"url": f"https://v.test/{job.id}.mp4"} if job.status is JobStatus.SUCCEEDED else None
    return {"id": job.id, "status": job.status.value, "model": job.model, "prompt": job.prompt, "video": video}


async def stored(outbox: WebhookOutbox) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for event_id in await outbox.due_ids(limit=100):
        event = await outbox.get(event_id)
        assert event is not None
        found.append((event.type, event.target.endpoint, json.loads(event.body)))
    return sorted(found, key=lambda row: (row[0], row[1]))


@pytest.fixture
def outbox(redis_client: aioredis.Redis) -> WebhookOutbox:
    return WebhookOutbox(redis_client, prefix="t")


async def test_created_and_succeeded_jobs_become_events_and_a_notice_each_stored_once(outbox: WebhookOutbox) -> None:
    publisher = WebhookPublisher(outbox, [ENDPOINT], discord_url="https://discord.test/api/webhooks/1/t")
    listener = WebhookListener(publisher, job_json, lambda job: Callback.for_api_key("https://cb.test/h", "k"))
    job = make_job()
    done = job.replace(status=JobStatus.SUCCEEDED)

    for _ in range(2):  # reported twice (two processes, a retry): stored once
        await listener.job_created(job, JobSource.API)
        await listener.job_ended(done)

    rows = await stored(outbox)
    assert [(kind, endpoint.split(":")[0]) for kind, endpoint, _ in rows] == [
        ("job.created", "callback"),
        ("job.created", "endpoint"),
        ("job.succeeded", "callback"),
        ("job.succeeded", "endpoint"),
        ("notify.video_ready", "discord"),
    ]
    assert rows[0][2]["data"] == job_json(job)
    assert rows[3][2]["data"]["video"] == {"url": f"https://v.test/{job.id}.mp4"}
    assert rows[4][2]["embeds"][0]["title"] == "Video ready"


async def test_a_cancelled_job_goes_only_where_it_was_asked_for_and_makes_no_notice(outbox: WebhookOutbox) -> None:
    publisher = WebhookPublisher(outbox, [ENDPOINT], slack_url="https://hooks.slack.test/services/T/B/t")
    listeners = Listeners([WebhookListener(publisher, job_json)])

    await listeners.job_ended(make_job(status=JobStatus.CANCELLED))  # the endpoint did not ask for job.cancelled
    await listeners.job_ended(make_job(status=JobStatus.FAILED))

    assert [(kind, endpoint) for kind, endpoint, _ in await stored(outbox)] == [("job.failed", ENDPOINT.name)]


def test_the_engines_per_poll_reports_are_the_no_ops_the_fan_out_skips() -> None:
    # Listeners calls polled/step_started only on listeners whose class replaces NoEvents' empty methods.
    assert WebhookListener.polled is NoEvents.polled
    assert WebhookListener.step_started is NoEvents.step_started
