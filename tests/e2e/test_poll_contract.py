"""The original workflow's contract: POST /webhook/poll-video adopts a task started elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from bot.app import Reelay
from sandbox.serve import free_port
from tests.e2e.conftest import ALICE, BOB, SettingsFactory, running, videos_in
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
TOKEN = "api-token-for-tests-0123456789abcdef"


@dataclass
class Api:
    reelay: Reelay
    client: httpx.AsyncClient


@pytest.fixture
async def api(make_settings: SettingsFactory) -> AsyncIterator[Api]:
    port = free_port()
    settings = make_settings(http={"port": port, "api_token": TOKEN})
    async with (
        running(settings) as reelay,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}) as client,
    ):
        yield Api(reelay, client)


async def start_task_elsewhere(kie: KieStandIn, prompt: str = "made by the main workflow [polls=1]") -> str:
    """What the original main workflow does: create the task at KIE itself."""
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{kie.url}/api/v1/veo/generate",
            json={"prompt": prompt, "model": "veo3_fast", "aspectRatio": "16:9"},
            headers={"Authorization": f"Bearer {kie.api_key}"},
        )
    task_id: str = answer.json()["data"]["taskId"]
    return task_id


async def test_adopted_task_is_delivered_to_the_chat_the_session_names(
    api: Api, kie: KieStandIn, telegram: TelegramStandIn
) -> None:
    telegram.emulator.add_user(ALICE, "Alice")
    registered = await api.client.post("/sessions", json={"sessionId": "n8n-session-42", "chatId": ALICE})
    assert registered.status_code == 200
    task_id = await start_task_elsewhere(kie)

    answer = await api.client.post(
        "/webhook/poll-video",
        json={"sessionId": "n8n-session-42", "taskId": task_id, "model": "veo3_fast", "attempt": 1},
    )
    again = await api.client.post(
        "/webhook/poll-video",
        json={"sessionId": "n8n-session-42", "taskId": task_id, "model": "veo3_fast", "attempt": 1},
    )

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "Polling started"
    assert again.json()["jobId"] == body["jobId"], "the same task posted twice is one job"
    await telegram.emulator.wait_for_async(lambda: videos_in(telegram, ALICE), timeout=20, what="the video")
    status = await api.client.get(f"/jobs/{body['jobId']}")
    assert status.status_code == 200
    assert status.json()["taskId"] == task_id
    assert status.json()["status"] in ("delivering", "succeeded")
    assert len(kie.sim.submissions) == 1, "Reelay did not submit anything itself"
    assert len(videos_in(telegram, ALICE)) == 1


async def test_the_same_task_posted_twice_at_once_is_one_job(
    api: Api, kie: KieStandIn, telegram: TelegramStandIn
) -> None:
    telegram.emulator.add_user(ALICE, "Alice")
    task_id = await start_task_elsewhere(kie)
    body = {"sessionId": ALICE, "taskId": task_id, "model": "veo3_fast", "attempt": 1}

    answers = await asyncio.gather(*(api.client.post("/webhook/poll-video", json=body) for _ in range(4)))

    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.json()["jobId"] for a in answers}) == 1
    await telegram.emulator.wait_for_async(lambda: videos_in(telegram, ALICE), timeout=20, what="the video")
    assert len(videos_in(telegram, ALICE)) == 1


async def test_the_attempt_numbers_the_poll_that_is_due(api: Api, kie: KieStandIn, telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(ALICE, "Alice")
    last = api.reelay.settings.poll.max_attempts
    task_id = await start_task_elsewhere(kie, "pending once, then done [polls=1]")

    answer = await api.client.post(
        "/webhook/poll-video", json={"sessionId": ALICE, "taskId": task_id, "model": "veo3_fast", "attempt": last - 1}
    )
    await telegram.emulator.wait_for_async(lambda: videos_in(telegram, ALICE), timeout=20, what="the video")

    job = await api.reelay.jobs.get(answer.json()["jobId"])
    assert job.attempts == last, "attempts last - 1 and last were the two polls it took"
    assert "delayed" not in job.transitions


async def test_a_numeric_session_id_is_a_telegram_chat(api: Api, kie: KieStandIn, telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(BOB, "Bob")
    task_id = await start_task_elsewhere(kie)

    answer = await api.client.post(
        "/webhook/poll-video", json={"sessionId": BOB, "taskId": task_id, "model": "veo3_fast", "attempt": 1}
    )

    assert answer.status_code == 200
    await telegram.emulator.wait_for_async(lambda: videos_in(telegram, BOB), timeout=20, what="the video")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sessionId": 1, "model": "veo3"}, "taskId"),
        ({"sessionId": 1, "taskId": "", "model": "veo3"}, "taskId"),
        ({"sessionId": 1, "taskId": "t1", "model": "veo3", "attempt": "two"}, "attempt"),
        ({"sessionId": 1, "taskId": "t1", "model": "no-such-model"}, "model"),
        ({"sessionId": "unregistered-session", "taskId": "t1", "model": "veo3"}, "sessionId"),
        ({"taskId": "t1", "model": "veo3"}, "sessionId"),
        (["not", "an", "object"], "body"),
    ],
)
async def test_malformed_bodies_are_refused_with_the_field_named(api: Api, body: object, field: str) -> None:
    answer = await api.client.post("/webhook/poll-video", json=body)

    assert answer.status_code == 422
    assert answer.json()["field"] == field


async def test_invalid_json_and_wrong_tokens_are_refused(api: Api) -> None:
    not_json = await api.client.post(
        "/webhook/poll-video", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    port = api.reelay.http_port
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as anonymous:
        no_token = await anonymous.post("/webhook/poll-video", json={})
        wrong = await anonymous.post("/webhook/poll-video", json={}, headers={"Authorization": "Bearer wrong"})
        jobs = await anonymous.get("/jobs/abc", headers={"Authorization": "Bearer wrong"})
        sessions = await anonymous.post("/sessions", json={"sessionId": "x", "chatId": 1})

    assert (not_json.status_code, not_json.json()["field"]) == (422, "body")
    assert [r.status_code for r in (no_token, wrong, jobs, sessions)] == [401, 401, 401, 401]


async def test_unknown_job_is_404(api: Api) -> None:
    assert (await api.client.get("/jobs/NoSuchJob12")).status_code == 404
