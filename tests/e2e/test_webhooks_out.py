"""Webhooks out, end to end: jobs made in the Telegram stand-in or over poll-video produce signed events at the
configured endpoints and callbacks (every signature verified, ``data`` the job view), Discord and Slack stand-ins
get their messages, failures are retried with the same ``webhook-id``, and a 410 disables an endpoint."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from bot import texts
from bot.app import Reelay, Role
from bot.http.job_view import job_view
from bot.i18n import ENGLISH
from poller.jobs import Job, JobStatus
from sandbox.serve import free_port
from storage.webhook_outbox import WebhookOutbox
from tests.e2e.conftest import ALICE, SettingsFactory, button_data, running, videos_in, wait_for_job_status
from tests.e2e.test_poll_contract import start_task_elsewhere
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn
from tests.fixtures.webhook_receiver import Received, Receiver
from webhooks.signing import new_secret, verify

pytestmark = pytest.mark.e2e

ALL_SECRET = new_secret()
ONLY_SECRET = new_secret()
POLL_SECRET = new_secret()
API_TOKEN = "api-token-for-tests-0123456789abcdef"
FAST_RETRIES = [0.2]


async def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (found := check()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return found


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _nothing_due(outbox: WebhookOutbox) -> bool:
    return not (await outbox.counts())["waiting"]


def events_at(receiver: Receiver, path: str, secret: str) -> list[dict[str, Any]]:
    """The events a path received, each signature verified, one per webhook-id (receivers deduplicate), in the
    order of their timestamps."""
    seen: dict[str, dict[str, Any]] = {}
    for request in receiver.at(path):
        verify(secret, request.headers, request.body)
        seen.setdefault(request.headers["webhook-id"], json.loads(request.body))
    return sorted(seen.values(), key=lambda event: event["timestamp"])


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def chat_posts(receiver: Receiver, prefix: str) -> list[Received]:
    return [request for request in receiver.received if request.path.startswith(prefix)]


async def test_a_telegram_job_sends_each_moment_signed_to_each_endpoint_and_notices_to_discord_and_slack(
    make_settings: SettingsFactory, telegram: TelegramStandIn, receiver: Receiver
) -> None:
    settings = make_settings(
        webhooks={
            "endpoints": [
                {"url": receiver.base + "/all", "secret": ALL_SECRET},
                {"url": receiver.base + "/only", "secret": ONLY_SECRET, "events": ["job.succeeded"]},
            ],
            "retry_delays_s": FAST_RETRIES,
        },
        notify={
            "discord_webhook_url": receiver.base + "/discord/api/webhooks/1/t0ken",
            "slack_webhook_url": receiver.base + "/slack/services/T/B/t0ken",
        },
    )
    async with running(settings) as reelay:
        tg = telegram.emulator
        tg.send_text(ALICE, ALICE, "A red fox running through fresh snow at sunrise [polls=2]")
        preview = await tg.wait_for_async(
            lambda: next(iter(videos_in(telegram, ALICE)), None), timeout=20, what="video"
        )
        # Published after job.succeeded is stored: the ready message may reach the chat a moment before that.
        await eventually(lambda: len(events_at(receiver, "/all", ALL_SECRET)) == 3, "three events at /all")
        tg.press_button(ALICE, preview.message_id, ALICE, button_data(preview)[texts.PUBLISH])
        await eventually(lambda: len(events_at(receiver, "/all", ALL_SECRET)) == 4, "four events at /all")
        await eventually(lambda: len(chat_posts(receiver, "/discord")) == 2, "two Discord posts")
        await eventually(lambda: len(chat_posts(receiver, "/slack")) == 2, "two Slack posts")
        job = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)

    every = events_at(receiver, "/all", ALL_SECRET)
    assert types(every) == ["job.created", "job.running", "job.succeeded", "job.published"]
    assert [event["data"]["status"] for event in every] == ["queued", "running", "succeeded", "succeeded"]
    assert every[2]["data"] == job_view(job)
    assert every[2]["data"]["video"]["url"]
    only = events_at(receiver, "/only", ONLY_SECRET)
    assert types(only) == ["job.succeeded"], "an endpoint gets only the events it asked for"
    assert only[0]["data"] == job_view(job)

    video_url = job_view(job)["video"]["url"]
    discord = [json.loads(post.body) for post in chat_posts(receiver, "/discord")]
    assert [body["embeds"][0]["title"] for body in discord] == ["Video ready", "Video published"]
    for body in discord:
        assert body["content"].endswith(video_url)
        model = job.model.replace("_", "\\_")  # Discord markdown escaped
        assert body["embeds"][0]["fields"][0] == {"name": "Model", "value": model, "inline": True}
        assert body["embeds"][0]["description"].startswith("A red fox running")
        assert body["allowed_mentions"] == {"parse": []}
    slack = [json.loads(post.body) for post in chat_posts(receiver, "/slack")]
    assert [body["text"].split(" (")[0] for body in slack] == ["Video ready", "Video published"]
    for body in slack:
        assert body["blocks"][0]["type"] == "section"
        assert body["blocks"][0]["text"]["type"] == "mrkdwn"
        escaped = video_url.replace("&", "&amp;")  # Slack's escaping
        assert f"<{escaped}|Watch the video>" in body["blocks"][0]["text"]["text"]
        assert "webhook-signature" not in {name.lower() for name in chat_posts(receiver, "/slack")[0].headers}


async def test_a_receiver_failing_twice_gets_the_same_id_three_times_and_each_event_is_delivered_once(
    make_settings: SettingsFactory, telegram: TelegramStandIn, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]  # the first event's first two attempts
    settings = make_settings(
        webhooks={
            "endpoints": [{"url": receiver.base + "/all", "secret": ALL_SECRET, "events": ["job.created"]}],
            "retry_delays_s": FAST_RETRIES,
        }
    )
    async with running(settings) as reelay:
        telegram.emulator.send_text(ALICE, ALICE, "a lantern on a dark lake [polls=1]")
        await eventually(lambda: len(receiver.received) >= 3, "three attempts")
        await asyncio.sleep(0.5)  # time for a wrong fourth attempt to show
        outbox = WebhookOutbox(reelay.redis, prefix=reelay.settings.redis.prefix)
        assert (await outbox.counts())["waiting"] == 0
        assert (await outbox.counts()).get("delivered") == 1

    ids = receiver.ids()
    assert len(ids) == 3
    assert len(set(ids)) == 1
    for request in receiver.received:
        verify(ALL_SECRET, request.headers, request.body)
    assert len({request.body for request in receiver.received}) == 1, "the same bytes every time"


async def test_a_410_disables_the_endpoint_and_its_later_events_are_not_sent(
    make_settings: SettingsFactory, telegram: TelegramStandIn, receiver: Receiver
) -> None:
    receiver.default = 410
    settings = make_settings(
        webhooks={"endpoints": [{"url": receiver.base + "/gone", "secret": ALL_SECRET}], "retry_delays_s": FAST_RETRIES}
    )
    async with running(settings) as reelay:
        outbox = WebhookOutbox(reelay.redis, prefix=reelay.settings.redis.prefix)
        telegram.emulator.send_text(ALICE, ALICE, "a lantern on a dark lake [polls=1]")
        first = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED, timeout=20)
        await eventually(lambda: receiver.received, "the first answer, a 410")
        await until(outbox.disabled, "the endpoint disabled")
        sent_before = len(receiver.received)
        telegram.emulator.send_text(ALICE, ALICE, "a second lantern [polls=1]")
        second = await _next_job(reelay, first.id)
        await until(lambda: _nothing_due(outbox), "the outbox emptied")
        dead = await outbox.dead()

    assert len(receiver.received) == sent_before, "nothing more was sent to the disabled endpoint"
    assert all(json.loads(request.body)["data"]["id"] == first.id for request in receiver.received)
    assert sorted(event.type for event in dead if json.loads(event.body)["data"]["id"] == second.id) == [
        "job.created",
        "job.running",
        "job.succeeded",
    ]


async def _next_job(reelay: Reelay, after_id: str) -> Job:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while loop.time() < deadline:
        newest = await reelay.jobs.jobs_for_user(ALICE, limit=1)
        if newest and newest[0].id != after_id and newest[0].status is JobStatus.SUCCEEDED:
            return newest[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the second job did not succeed")


async def test_a_poll_video_callback_gets_created_running_succeeded_signed_with_the_poll_video_secret(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, receiver: Receiver
) -> None:
    port = free_port()
    settings = make_settings(
        http={"port": port, "api_token": API_TOKEN},
        webhooks={"poll_video_secret": POLL_SECRET, "retry_delays_s": FAST_RETRIES},
    )
    telegram.emulator.add_user(ALICE, "Alice")
    task_id = await start_task_elsewhere(kie)
    async with (
        running(settings) as reelay,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {API_TOKEN}"}
        ) as client,
    ):
        body = {"sessionId": ALICE, "taskId": task_id, "model": "veo3_fast", "callbackUrl": receiver.base + "/cb"}
        answer = await client.post("/webhook/poll-video", json=body)
        assert answer.status_code == 200, answer.text
        await eventually(lambda: len(events_at(receiver, "/cb", POLL_SECRET)) == 3, "three events at the callback")
        job = await reelay.jobs.get(answer.json()["jobId"])

    events = events_at(receiver, "/cb", POLL_SECRET)
    assert sorted(types(events)) == ["job.created", "job.running", "job.succeeded"]
    assert types(events)[-1] == "job.succeeded"
    assert events[-1]["data"] == job_view(job)
    assert job.callback_url == receiver.base + "/cb"


async def test_a_poll_video_callback_is_refused_when_unusable_or_when_nothing_can_sign_it(
    make_settings: SettingsFactory, kie: KieStandIn, receiver: Receiver
) -> None:
    port = free_port()
    base = {"sessionId": ALICE, "taskId": "task-x", "model": "veo3_fast"}
    for webhooks, callback, expected in (
        ({}, receiver.base + "/cb", "webhooks.poll_video_secret"),
        ({"poll_video_secret": POLL_SECRET}, "ftp://127.0.0.1/cb", "must start with"),
        ({"poll_video_secret": POLL_SECRET}, 42, "callbackUrl"),
    ):
        settings = make_settings(http={"port": port, "api_token": API_TOKEN}, webhooks=webhooks)
        async with (
            running(settings) as reelay,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {API_TOKEN}"}
            ) as client,
        ):
            answer = await client.post("/webhook/poll-video", json={**base, "callbackUrl": callback})
            assert answer.status_code == 422, answer.text
            assert answer.json()["field"] == "callbackUrl"
            assert expected in answer.json()["error"]
            assert await reelay.jobs.jobs_for_user(ALICE, limit=1) == []
    assert receiver.received == []


async def test_split_roles_the_bot_stores_events_and_the_poller_sends_them(
    make_settings: SettingsFactory, telegram: TelegramStandIn, receiver: Receiver
) -> None:
    settings = make_settings(
        webhooks={"endpoints": [{"url": receiver.url, "secret": ALL_SECRET}], "retry_delays_s": FAST_RETRIES}
    )
    bot, poller = Reelay(settings, Role.BOT), Reelay(settings, Role.POLLER)
    assert bot.webhooks is None, "only polling processes send"
    assert poller.webhooks is not None
    await bot.start()
    await poller.start()
    try:
        telegram.emulator.send_text(ALICE, ALICE, "a lantern on a dark lake [polls=1]")
        await eventually(lambda: len(events_at(receiver, "/hook", ALL_SECRET)) == 3, "three events")
    finally:
        await poller.stop()
        await bot.stop()

    assert types(events_at(receiver, "/hook", ALL_SECRET)) == ["job.created", "job.running", "job.succeeded"]


async def test_a_failed_job_sends_job_failed_with_the_user_facing_error_and_no_ready_notice(
    make_settings: SettingsFactory, telegram: TelegramStandIn, receiver: Receiver
) -> None:
    settings = make_settings(
        webhooks={"endpoints": [{"url": receiver.url, "secret": ALL_SECRET}], "retry_delays_s": FAST_RETRIES},
        notify={"discord_webhook_url": receiver.base + "/discord/api/webhooks/1/t0ken"},
    )
    async with running(settings) as reelay:
        telegram.emulator.send_text(ALICE, ALICE, "a video the provider fails [fail] [polls=1]")
        job = await wait_for_job_status(reelay, ALICE, JobStatus.FAILED, timeout=20)
        await eventually(lambda: len(events_at(receiver, "/hook", ALL_SECRET)) == 3, "three events")
        await asyncio.sleep(0.3)  # time for a wrong notice to show

    events = events_at(receiver, "/hook", ALL_SECRET)
    assert types(events) == ["job.created", "job.running", "job.failed"]
    failed = events[-1]["data"]
    assert failed == job_view(job)
    assert job.error_code is not None
    assert failed["error"] == {"code": job.error_code.value, "message": texts.error_message(ENGLISH, job.error_code)}
    assert job.error_raw
    assert job.error_raw not in json.dumps(failed), "never the provider's raw error"
    assert failed["video"] is None
    assert chat_posts(receiver, "/discord") == []
