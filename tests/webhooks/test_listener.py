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
from webhooks.listener import WebhookListener, job_callback
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


async def test_running_and_published_moments_are_stored_once_with_the_published_notice(outbox: WebhookOutbox) -> None:
    everything = Endpoint("https://hooks.test/every", "whsec_unused", frozenset({"job.running", "job.published"}))
    publisher = WebhookPublisher(outbox, [everything], slack_url="https://hooks.slack.test/services/T/B/t")
    listeners = Listeners([WebhookListener(publisher, job_json)])
    running = make_job(status=JobStatus.RUNNING)
    done = running.replace(status=JobStatus.SUCCEEDED)

    for _ in range(2):
        await listeners.job_running(running)
        await listeners.job_published(done)

    rows = await stored(outbox)
    assert [(kind, endpoint) for kind, endpoint, _ in rows] == [
        ("job.published", everything.name),
        ("job.running", everything.name),
        ("notify.video_published", "slack"),
    ]
    assert rows[1][2]["data"] == job_json(running)
    assert rows[2][2]["text"].startswith("Video published")


async def test_a_moment_nobody_is_to_hear_of_builds_no_view_and_stores_nothing(outbox: WebhookOutbox) -> None:
    views: list[str] = []

    def counting_view(job: Job) -> dict[str, Any]:
        views.append(job.id)
        return job_json(job)

    listener = WebhookListener(WebhookPublisher(outbox, [ENDPOINT]), counting_view, job_callback)
    job = make_job(status=JobStatus.SUCCEEDED)

    await listener.job_running(job)  # the endpoint did not ask for it, no callback, no chat
    await listener.job_published(job)

    assert views == []
    assert await stored(outbox) == []


def test_a_jobs_callback_is_signed_with_its_keys_secret_or_for_poll_video_with_the_poll_video_secret() -> None:
    assert job_callback(make_job()) is None
    assert job_callback(make_job(callback_url="https://cb.test/h", api_key="zapier")) == Callback(
        "https://cb.test/h", "apikey:zapier"
    )
    assert job_callback(make_job(callback_url="https://cb.test/p")) == Callback("https://cb.test/p", "poll_video")
