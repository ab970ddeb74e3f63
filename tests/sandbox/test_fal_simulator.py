"""The fal simulator on its own: Key auth, prompt markers, queue places, cancel, records, and signed webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.http.fal_signatures import FalSignatures
from sandbox.fal import FalScenario, apply_prompt_markers
from sandbox.serve import ThreadedServer
from tests.fixtures.fal import FalStandIn

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(fal: FalStandIn) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fal.url, headers={"Authorization": f"Key {fal.api_key}"}) as http:
        yield http


def test_markers_steer_a_request() -> None:
    scenario = apply_prompt_markers(FalScenario(), "a fox [queue=4] [running=2] [moderation] [lost=1]")

    assert (scenario.queue, scenario.running, scenario.outcome, scenario.lost_polls) == (4, 2, "moderation", 1)
    assert apply_prompt_markers(FalScenario(), "[busy]").submit_fault == 429
    assert apply_prompt_markers(FalScenario(), "[down]").submit_fault == 503
    with pytest.raises(ValueError, match="submit_fault"):
        apply_prompt_markers(FalScenario(), "[submit_fault=200]")


async def test_every_call_needs_the_key_and_is_recorded(fal: FalStandIn) -> None:
    async with httpx.AsyncClient(base_url=fal.url) as anonymous:
        answer = await anonymous.post("/fal-ai/veo3", json={"prompt": "a fox"})

    assert answer.status_code == 401
    assert [(call.method, call.path, call.authorized) for call in fal.sim.calls] == [("POST", "/fal-ai/veo3", False)]
    assert fal.sim.requests == []


async def test_a_queued_request_moves_up_then_runs_then_completes(client: httpx.AsyncClient) -> None:
    submitted = (await client.post("/fal-ai/veo3/fast", json={"prompt": "a fox [queue=2] [running=1]"})).json()
    assert submitted["queue_position"] == 1
    assert submitted["status_url"].endswith(f"/fal-ai/veo3/requests/{submitted['request_id']}/status")

    statuses = [(await client.get(submitted["status_url"])).json() for _ in range(4)]

    assert [(s["status"], s.get("queue_position")) for s in statuses] == [
        ("IN_QUEUE", 1),
        ("IN_QUEUE", 0),
        ("IN_PROGRESS", None),
        ("COMPLETED", None),
    ]
    result = (await client.get(submitted["response_url"])).json()
    assert result["video"]["content_type"] == "video/mp4"


async def test_cancel_works_while_queued_and_not_after_completion(client: httpx.AsyncClient) -> None:
    queued = (await client.post("/fal-ai/veo3", json={"prompt": "a fox [queue=3]"})).json()
    done = (await client.post("/fal-ai/veo3", json={"prompt": "a fox [running=0]"})).json()
    await client.get(done["status_url"])

    cancel_queued = await client.put(queued["cancel_url"])
    cancel_done = await client.put(done["cancel_url"])

    assert (cancel_queued.status_code, cancel_queued.json()["status"]) == (202, "CANCELLATION_REQUESTED")
    assert (cancel_done.status_code, cancel_done.json()["status"]) == (400, "ALREADY_COMPLETED")


async def test_refusals_answer_as_fal_does(client: httpx.AsyncClient) -> None:
    busy = await client.post("/fal-ai/veo3", json={"prompt": "[busy]"})
    down = await client.post("/fal-ai/veo3", json={"prompt": "[down]"})

    assert (busy.status_code, busy.json()["error_type"]) == (429, "concurrent_requests_limit")
    assert down.status_code == 503


async def test_a_finished_request_calls_its_webhook_signed_with_the_served_key(
    fal: FalStandIn, client: httpx.AsyncClient
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append((dict(request.headers), await request.body()))
        return JSONResponse({"ok": True})

    with ThreadedServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as receiver:
        params = {"fal_webhook": f"{receiver.url}/hook"}
        await client.post("/fal-ai/veo3", params=params, json={"prompt": "a fox [after=0.1]"})
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.02)

    [(headers, body)] = received
    assert json.loads(body)["status"] == "OK"
    assert json.loads(body)["payload"]["video"]["url"].endswith(".mp4")

    async def served_keys() -> bytes:
        return (await client.get("/.well-known/jwks.json")).content

    assert await FalSignatures(served_keys).verify(headers, body)
    assert fal.sim.webhooks[0].status_code == 200
