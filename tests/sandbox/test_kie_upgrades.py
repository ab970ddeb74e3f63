"""The simulator's Veo upgrades over real HTTP: 1080p GET, the paid-once 4K POST, their checks and callbacks."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from sandbox.kie.scenario import Scenario, apply_prompt_markers
from sandbox.kie.upgrade_api import DONE_4K, PROCESSING_4K, PROCESSING_1080P, UNAVAILABLE_4K
from tests.fixtures.kie import KieStandIn
from tests.sandbox.test_kie_simulator import CREATE, SORA_INPUT, Kie, Receiver, api, receiver

pytestmark = pytest.mark.integration
__all__ = ["api", "receiver"]  # fixtures shared with the simulator's other tests

HD = "/api/v1/veo/get-1080p-video"
UHD = "/api/v1/veo/get-4k-video"


async def finished_video(api: Kie, prompt: str = "a cat") -> str:
    task_id = await api.generate(prompt)  # the default scenario finishes at once
    assert (await api.veo_data(task_id))["successFlag"] == 1
    return task_id


async def hd(api: Kie, task_id: str, index: str = "0") -> dict[str, Any]:
    response = await api.client.get(f"{api.url}{HD}", params={"taskId": task_id, "index": index}, headers=api.headers)
    assert response.status_code == 200  # KIE's way: the outcome is the body's code
    answer: dict[str, Any] = response.json()
    return answer


async def uhd(api: Kie, body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = (await api.post(UHD, body)).json()
    return answer


def test_upgrade_markers_steer_the_upgrades_of_a_video() -> None:
    scenario = apply_prompt_markers(Scenario(), "a cat [upgrade_polls=3] [upgrade_after=2.5] [upgrade=fail]")
    assert (scenario.upgrade_polls, scenario.upgrade_after, scenario.upgrade_outcome) == (3, 2.5, "fail")
    with pytest.raises(ValueError, match="upgrade_outcome"):
        apply_prompt_markers(Scenario(), "[upgrade=maybe]")


async def test_1080p_is_processing_for_the_asked_polls_then_serves_a_playable_link(api: Kie, kie: KieStandIn) -> None:
    task_id = await finished_video(api, "a cat [upgrade_polls=2]")

    answers = [await hd(api, task_id) for _ in range(4)]

    assert [a["code"] for a in answers] == [400, 400, 400, 200]
    assert answers[0]["msg"] == PROCESSING_1080P
    url = answers[3]["data"]["resultUrl"]
    assert url.endswith(f"/files/upgrades/{task_id}/1080p.mp4")
    video = await api.client.get(url)
    assert (video.status_code, video.content[4:8]) == (200, b"ftyp")
    assert [call.code for call in kie.sim.upgrades.calls] == [400, 400, 400, 200]
    assert kie.sim.upgrades.paid_calls("1080p") == []


@pytest.mark.parametrize(
    ("task", "index", "code", "message"),
    [
        ("veo_task_nosuchtask", "0", 404, "task not found"),
        ("", "0", 422, "taskId is required"),
        ("FINISHED", "x", 422, "index must be a non-negative integer"),
        ("FINISHED", "1", 422, "record result data not exist"),
        ("SLOW", "0", 422, "record status is not success"),
    ],
)
async def test_1080p_of_anything_but_a_finished_veo_video_is_refused(
    api: Kie, task: str, index: str, code: int, message: str
) -> None:
    ids = {"FINISHED": await finished_video(api), "SLOW": await api.generate("a slow one [polls=5]")}

    answer = await hd(api, ids.get(task, task), index)

    assert (answer["code"], answer["msg"]) == (code, message)


async def test_failed_1080p_answers_501(api: Kie) -> None:
    task_id = await finished_video(api, "a cat [upgrade_polls=0] [upgrade=fail]")
    assert (await hd(api, task_id))["code"] == 501


async def test_4k_is_paid_once_then_answers_422_processing_then_422_with_the_urls(api: Kie, kie: KieStandIn) -> None:
    task_id = await finished_video(api, "a cat [upgrade_polls=1]")
    body = {"taskId": task_id, "index": 0}

    first, second, third = [await uhd(api, body) for _ in range(3)]

    assert first == {"code": 200, "msg": "success", "data": {"taskId": task_id, "resultUrls": None, "imageUrls": None}}
    assert (second["code"], second["msg"], second["data"]["resultUrls"]) == (422, PROCESSING_4K, None)
    assert (third["code"], third["msg"]) == (422, DONE_4K)
    [url] = third["data"]["resultUrls"]
    assert (await api.client.get(url)).content[4:8] == b"ftyp"
    assert len(kie.sim.upgrades.paid_calls("4k")) == 1
    assert [call.code for call in kie.sim.upgrades.calls] == [200, 422, 422]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"index": "0"}, "index must be a non-negative integer"),
        ({"index": True}, "index must be a non-negative integer"),
        ({"taskId": 5}, "taskId is required"),
        ({"callBackUrl": "ftp://x"}, "callBackUrl must be an http(s) URL"),
        ({"resolution": "4k"}, "unknown fields: resolution"),
        ({"taskId": "veo_task_nosuchtask"}, "record is null"),
    ],
)
async def test_4k_requests_real_kie_would_refuse_are_refused_and_never_paid(
    api: Kie, kie: KieStandIn, change: dict[str, Any], message: str
) -> None:
    task_id = await finished_video(api)

    answer = await uhd(api, {"taskId": task_id, "index": 0, **change})

    assert (answer["code"], answer["msg"]) == (422, message)
    assert kie.sim.upgrades.paid_calls("4k") == []


async def test_4k_of_a_market_task_is_refused(api: Kie) -> None:
    created = (await api.post(CREATE, {"model": "sora-2-text-to-video", "input": SORA_INPUT})).json()
    answer = await uhd(api, {"taskId": created["data"]["taskId"], "index": 0})
    assert (answer["code"], answer["msg"]) == (422, "record is null")


async def test_4k_calls_back_with_the_urls_and_credits_consumed_when_its_time_is_up(
    api: Kie, kie: KieStandIn, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    task_id = await finished_video(api, "a cat [upgrade_after=0.2]")

    await uhd(api, {"taskId": task_id, "index": 0, "callBackUrl": url})
    [callback] = await asyncio.to_thread(target.wait_for, 1)

    assert callback["code"] == 200
    assert callback["data"]["taskId"] == task_id
    assert callback["data"]["creditsConsumed"] == 120
    [video] = callback["data"]["info"]["resultUrls"]
    assert video.endswith(f"/files/upgrades/{task_id}/4k.mp4")
    assert callback["data"]["info"]["imageUrls"]
    after = await uhd(api, {"taskId": task_id, "index": 0})
    assert (after["code"], after["data"]["resultUrls"]) == (422, [video])
    assert len(kie.sim.upgrades.paid_calls("4k")) == 1


async def test_unavailable_4k_calls_back_500_and_answers_500_after(api: Kie, receiver: tuple[Receiver, str]) -> None:
    target, url = receiver
    task_id = await finished_video(api, "a cat [upgrade_polls=0] [upgrade=fail]")

    await uhd(api, {"taskId": task_id, "index": 0, "callBackUrl": url})
    [callback] = await asyncio.to_thread(target.wait_for, 1)
    after = await uhd(api, {"taskId": task_id, "index": 0})

    assert (callback["code"], callback["msg"], callback["data"]) == (500, UNAVAILABLE_4K, {"taskId": task_id})
    assert (after["code"], after["msg"]) == (500, UNAVAILABLE_4K)


async def test_upgrade_calls_with_a_wrong_key_are_refused_and_not_recorded(kie: KieStandIn) -> None:
    async with httpx.AsyncClient() as client:
        wrong = Kie(client, kie, key="wrong")
        answer = (await wrong.post(UHD, {"taskId": "veo_task_x", "index": 0})).json()
    assert answer["code"] == 401
    assert kie.sim.upgrades.calls == []
