"""The KIE.ai simulator over real HTTP: auth, shapes, scenarios, faults, files, callbacks, knobs."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from poller.errors import ErrorCode
from poller.ports import TaskState
from providers.parsers import parse_status
from sandbox.kie_simulator import KieSimulator, Scenario, apply_prompt_markers, create_app
from sandbox.media import sample_mp4_bytes
from sandbox.serve import ThreadedServer
from storage.probe import probe_file
from tests.fixtures.kie import KieStandIn

pytestmark = pytest.mark.integration

GENERATE = "/api/v1/veo/generate"
VEO_INFO = "/api/v1/veo/record-info"
EXTEND = "/api/v1/veo/extend"
CREATE = "/api/v1/jobs/createTask"
MARKET_INFO = "/api/v1/jobs/recordInfo"
SORA_INPUT = {"prompt": "a fox", "aspect_ratio": "landscape", "n_frames": "10", "remove_watermark": True}


class Kie:
    """A thin raw-HTTP client for the simulator (no adapter in the way)."""

    def __init__(self, client: httpx.AsyncClient, stand_in: KieStandIn, key: str | None = None) -> None:
        self.client = client
        self.url = stand_in.url
        self.headers = {"Authorization": f"Bearer {key or stand_in.api_key}"}

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"{self.url}{path}", json=body, headers=self.headers)

    async def get(self, path: str, task_id: str) -> httpx.Response:
        return await self.client.get(f"{self.url}{path}", params={"taskId": task_id}, headers=self.headers)

    async def generate(self, prompt: str = "a cat", **extra: Any) -> str:
        response = await self.post(GENERATE, {"prompt": prompt, **extra})
        body = response.json()
        assert body["code"] == 200, body
        task_id: str = body["data"]["taskId"]
        return task_id

    async def veo_data(self, task_id: str) -> dict[str, Any]:
        data: dict[str, Any] = (await self.get(VEO_INFO, task_id)).json()["data"]
        return data


@pytest.fixture
async def api(kie: KieStandIn) -> AsyncIterator[Kie]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield Kie(client, kie)


class Receiver:
    """A callback endpoint on 127.0.0.1 that records what it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._arrived = threading.Condition()

    async def receive(self, request: Request) -> Response:
        body = json.loads(await request.body())
        with self._arrived:
            self.bodies.append(body)
            self._arrived.notify_all()
        return Response("ok")

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.bodies) >= count, timeout)
            return list(self.bodies)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()
    app = Starlette(routes=[Route("/cb", target.receive, methods=["POST"])])
    with ThreadedServer(app) as server:
        yield target, f"{server.url}/cb"


# --------------------------------------------------------------------------- auth and validation


async def test_wrong_key_gets_http_200_with_code_401_and_is_not_recorded(kie: KieStandIn) -> None:
    async with httpx.AsyncClient() as client:
        response = await Kie(client, kie, key="wrong").post(GENERATE, {"prompt": "a cat"})
    assert response.status_code == 200
    assert response.json()["code"] == 401
    assert kie.sim.submissions == []


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (GENERATE, {"prompt": ""}, "prompt is required"),
        (GENERATE, {"prompt": "x", "aspect_ratio": "1:1"}, "aspect ratio"),
        (GENERATE, {"prompt": "x", "aspectRatio": "16:9", "aspect_ratio": "9:16"}, "disagree"),
        (GENERATE, {"prompt": "x", "model": "veo9"}, "model"),
        (CREATE, {"model": "sora-2-text-to-video", "input": {**SORA_INPUT, "n_frames": 10}}, "n_frames"),
        (CREATE, {"model": "sora-2-text-to-video", "input": {**SORA_INPUT, "aspect_ratio": "16:9"}}, "aspect_ratio"),
        (CREATE, {"model": "bytedance/v1-pro-text-to-video", "input": {"prompt": "x", "duration": 5}}, "duration"),
        (CREATE, {"model": "unknown/model", "input": {"prompt": "x"}}, "not supported"),
    ],
)
async def test_bodies_real_kie_would_refuse_are_refused_with_422(
    api: Kie, kie: KieStandIn, path: str, body: dict[str, Any], message: str
) -> None:
    answer = (await api.post(path, body)).json()
    assert answer["code"] == 422
    assert message in answer["msg"]
    assert kie.sim.tasks == {}
    assert kie.sim.submissions == [body]  # recorded even when refused, for assertions on what was sent


# --------------------------------------------------------------------------- status shapes


async def test_veo_task_answers_generating_for_the_scenarios_polls_then_success(api: Kie, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(polls_before_done=2))
    task_id = await api.generate()
    flags = [(await api.veo_data(task_id))["successFlag"] for _ in range(3)]
    data = await api.veo_data(task_id)
    assert flags == [0, 0, 1]
    assert data["response"]["resultUrls"] == [f"{kie.url}/files/{task_id}.mp4"]
    assert json.loads(data["paramJson"]) == {"prompt": "a cat"}
    assert kie.sim.polls[task_id] == 4


async def test_market_task_moves_from_waiting_to_generating_to_success(api: Kie, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(polls_before_done=2))
    created = (await api.post(CREATE, {"model": "sora-2-text-to-video", "input": SORA_INPUT})).json()
    task_id = created["data"]["taskId"]
    answers = [(await api.get(MARKET_INFO, task_id)).json()["data"] for _ in range(3)]
    assert [answer["state"] for answer in answers] == ["waiting", "generating", "success"]
    assert json.loads(answers[-1]["resultJson"]) == {"resultUrls": [f"{kie.url}/files/{task_id}.mp4"]}
    assert answers[-1]["completeTime"] >= answers[-1]["createTime"]


@pytest.mark.parametrize(
    ("outcome", "code"), [("fail", ErrorCode.PROVIDER_ERROR), ("moderation", ErrorCode.MODERATION_REJECTED)]
)
async def test_failures_use_the_documented_fields(api: Kie, kie: KieStandIn, outcome: str, code: ErrorCode) -> None:
    kie.sim.default_scenario = Scenario(outcome=outcome)  # type: ignore[arg-type]
    veo = await api.veo_data(await api.generate())
    created = await api.post(CREATE, {"model": "sora-2-text-to-video", "input": SORA_INPUT})
    market_id = created.json()["data"]["taskId"]
    market = (await api.get(MARKET_INFO, market_id)).json()["data"]
    assert veo["successFlag"] in (2, 3)
    assert market["state"] == "fail"
    for data in (veo, market):
        result = parse_status(data)
        assert result.error is not None
        assert result.error.code is code


async def test_unknown_task_ids(api: Kie) -> None:
    assert (await api.get(VEO_INFO, "veo_task_nope")).json()["code"] == 404
    assert (await api.get(MARKET_INFO, "task_nope")).json() == {"code": 422, "msg": "recordInfo is null", "data": None}


async def test_a_veo_task_is_unknown_to_the_market_endpoint(api: Kie) -> None:
    task_id = await api.generate()
    assert (await api.get(MARKET_INFO, task_id)).json()["code"] == 422


# --------------------------------------------------------------------------- scenario selection


async def test_queued_scenarios_are_used_first_in_first_out_then_the_default(api: Kie, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(outcome="fail"))
    kie.sim.queue_scenario(Scenario(outcome="moderation"))
    ids = [await api.generate() for _ in range(3)]
    assert [kie.sim.tasks[task_id].outcome for task_id in ids] == ["fail", "moderation", "success"]


@pytest.mark.parametrize(
    ("prompt", "field", "value"),
    [
        ("a cat [fail]", "outcome", "fail"),
        ("a cat [moderation]", "outcome", "moderation"),
        ("a cat [polls=3]", "polls_before_done", 3),
        ("a cat [faults=500, 429]", "faults", ["500", "429"]),
        ("a cat [fault=timeout]", "faults", ["timeout"]),
        ("a cat [submit_fault=malformed]", "submit_fault", "malformed"),
        ("a cat [bytes=1000]", "video_bytes", 1000),
        ("a cat [after=2.5]", "completion_s", 2.5),
        ("a cat [download_faults=404,truncate]", "download_faults", ["404", "truncate"]),
    ],
)
def test_prompt_markers_override_one_field(prompt: str, field: str, value: object) -> None:
    assert getattr(apply_prompt_markers(Scenario(), prompt), field) == value


def test_ordinary_brackets_are_just_prompt_text() -> None:
    assert apply_prompt_markers(Scenario(), "a sign that says [hello]") == Scenario()


async def test_markers_in_a_market_prompt_steer_the_task(api: Kie, kie: KieStandIn) -> None:
    body = {"model": "sora-2-text-to-video", "input": {**SORA_INPUT, "prompt": "a fox [moderation]"}}
    task_id = (await api.post(CREATE, body)).json()["data"]["taskId"]
    assert kie.sim.tasks[task_id].outcome == "moderation"


async def test_a_bad_marker_value_is_refused_with_a_clear_message(api: Kie) -> None:
    answer = (await api.post(GENERATE, {"prompt": "a cat [polls=lots]"})).json()
    assert answer["code"] == 422
    assert "marker" in answer["msg"]


def test_scenario_refuses_unknown_faults() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        Scenario(faults=["explode"])
    with pytest.raises(ValueError, match="download fault"):
        Scenario(download_faults=["timeout"])


# --------------------------------------------------------------------------- faults


async def test_poll_faults_come_first_in_order_then_normal_answers(api: Kie, kie: KieStandIn) -> None:
    kie.sim.retry_after_s = 9
    kie.sim.queue_scenario(Scenario(faults=["429", "455", "500", "malformed", "unknown_shape"]))
    task_id = await api.generate()
    responses = [await api.get(VEO_INFO, task_id) for _ in range(6)]
    assert [r.status_code for r in responses] == [429, 455, 500, 200, 200, 200]
    assert responses[0].headers["Retry-After"] == "9"
    with pytest.raises(json.JSONDecodeError):
        responses[3].json()
    assert parse_status(responses[4].json()).parser == "unknown"
    assert responses[5].json()["data"]["successFlag"] == 1


async def test_http_submit_fault_creates_no_task(api: Kie, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(submit_fault="455"))
    response = await api.post(GENERATE, {"prompt": "a cat"})
    assert (response.status_code, response.json()["code"]) == (455, 455)
    assert kie.sim.tasks == {}
    assert len(kie.sim.submissions) == 1


async def test_timeout_fault_stalls_until_the_client_gives_up(api: Kie, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(faults=["timeout"]))
    task_id = await api.generate()
    with pytest.raises(httpx.ReadTimeout):
        await api.client.get(f"{kie.url}{VEO_INFO}", params={"taskId": task_id}, headers=api.headers, timeout=0.2)
    assert (await api.veo_data(task_id))["successFlag"] == 1


async def test_timeout_submit_fault_creates_the_task_but_loses_the_answer(api: Kie, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(submit_fault="timeout"))
    with pytest.raises(httpx.ReadTimeout):
        await api.client.post(f"{kie.url}{GENERATE}", json={"prompt": "x"}, headers=api.headers, timeout=0.2)
    assert len(kie.sim.tasks) == 1


async def test_concurrent_polls_are_all_counted(api: Kie, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(polls_before_done=1000))
    task_id = await api.generate()
    await asyncio.gather(*(api.get(VEO_INFO, task_id) for _ in range(40)))
    assert kie.sim.polls[task_id] == 40
    assert kie.sim.tasks[task_id].normal_polls == 40


# --------------------------------------------------------------------------- extend


async def test_extend_creates_a_child_of_a_finished_veo_task(api: Kie, kie: KieStandIn) -> None:
    parent = await api.generate()
    await api.veo_data(parent)
    answer = (await api.post(EXTEND, {"taskId": parent, "prompt": "then it rains", "model": "fast"})).json()
    child = answer["data"]["taskId"]
    task = kie.sim.tasks[child]
    assert (task.parent_id, task.model, task.api) == (parent, "veo3_fast", "veo")


async def test_extend_refuses_unknown_or_unfinished_parents(api: Kie, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(polls_before_done=5))
    running = await api.generate()
    unknown = (await api.post(EXTEND, {"taskId": "veo_task_nope", "prompt": "more"})).json()
    unfinished = (await api.post(EXTEND, {"taskId": running, "prompt": "more"})).json()
    assert (unknown["code"], unfinished["code"]) == (422, 422)
    assert "not ready" in unfinished["msg"]


# --------------------------------------------------------------------------- files


async def test_video_is_served_only_once_the_task_succeeded(api: Kie, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(polls_before_done=1))
    task_id = await api.generate()
    url = f"{kie.url}/files/{task_id}.mp4"
    before = await api.client.get(url)
    await api.veo_data(task_id)
    await api.veo_data(task_id)
    after = await api.client.get(url)
    assert before.status_code == 404
    assert after.status_code == 200
    assert after.content == sample_mp4_bytes()
    assert after.headers["Content-Length"] == str(len(sample_mp4_bytes()))
    assert after.headers["Content-Type"] == "video/mp4"


async def test_head_gives_the_length_without_a_body_or_a_download_count(api: Kie, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(video_bytes=5_000_000))
    task_id = await api.generate()
    await api.veo_data(task_id)
    head = await api.client.head(f"{kie.url}/files/{task_id}.mp4")
    assert (head.status_code, head.headers["Content-Length"], head.content) == (200, "5000000", b"")
    assert kie.sim.downloads == {}


async def test_generated_stream_is_a_video_of_exactly_the_asked_size(api: Kie, kie: KieStandIn, tmp_path: Path) -> None:
    kie.sim.queue_scenario(Scenario(video_bytes=200_001))
    task_id = await api.generate()
    await api.veo_data(task_id)
    response = await api.client.get(f"{kie.url}/files/{task_id}.mp4")
    assert len(response.content) == 200_001
    assert response.content.startswith(sample_mp4_bytes())
    assert kie.sim.downloads == {task_id: 1}
    (tmp_path / "v.mp4").write_bytes(response.content)
    info = probe_file(tmp_path / "v.mp4")
    assert info.has_video
    assert (info.width, info.height) == (320, 180)


async def test_a_not_video_fault_serves_bytes_without_a_video_stream_as_video_mp4(
    api: Kie, kie: KieStandIn, tmp_path: Path
) -> None:
    kie.sim.queue_scenario(Scenario(download_faults=["not_video"]))
    task_id = await api.generate()
    await api.veo_data(task_id)
    response = await api.client.get(f"{kie.url}/files/{task_id}.mp4")
    assert response.headers["Content-Type"] == "video/mp4"
    (tmp_path / "v.mp4").write_bytes(response.content)
    assert not probe_file(tmp_path / "v.mp4").has_video


async def test_failed_task_has_no_video(api: Kie, kie: KieStandIn) -> None:
    task_id = await api.generate("a cat [fail]")
    await api.veo_data(task_id)
    assert (await api.client.get(f"{kie.url}/files/{task_id}.mp4")).status_code == 404


async def test_public_url_knob_changes_the_result_links(api: Kie, kie: KieStandIn) -> None:
    kie.sim.public_url = "https://sandbox.example:8443"
    task_id = await api.generate()
    urls = (await api.veo_data(task_id))["response"]["resultUrls"]
    assert urls == [f"https://sandbox.example:8443/files/{task_id}.mp4"]


# --------------------------------------------------------------------------- callbacks


async def test_veo_callback_is_posted_when_a_polled_task_finishes(
    api: Kie, kie: KieStandIn, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    kie.sim.queue_scenario(Scenario(polls_before_done=1))
    task_id = await api.generate(callBackUrl=url)
    await api.veo_data(task_id)
    assert target.bodies == []  # still generating: nothing to report yet
    await api.veo_data(task_id)
    [body] = target.wait_for(1)
    assert body["code"] == 200
    assert body["data"]["taskId"] == task_id
    result = parse_status(body)
    assert (result.state, result.parser) == (TaskState.SUCCEEDED, "veo_callback")
    assert result.video_url == f"{kie.url}/files/{task_id}.mp4"


async def test_market_failure_callback_has_code_501_and_state_fail(
    api: Kie, kie: KieStandIn, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    body = {"model": "sora-2-text-to-video", "callBackUrl": url, "input": {**SORA_INPUT, "prompt": "x [fail]"}}
    await api.post(CREATE, body)
    [sent] = target.wait_for(1)
    assert (sent["code"], sent["data"]["state"], sent["data"]["resultJson"]) == (501, "fail", None)
    assert parse_status(sent).state is TaskState.FAILED


async def test_time_based_task_calls_back_without_being_polled(
    api: Kie, kie: KieStandIn, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    kie.sim.queue_scenario(Scenario(completion_s=0.1))
    task_id = await api.generate(callBackUrl=url)
    [body] = target.wait_for(1)
    assert body["data"]["taskId"] == task_id
    assert kie.sim.polls == {}
    assert [record.status_code for record in kie.sim.wait_for_callbacks(1)] == [200]


async def test_time_based_task_stays_running_until_its_time(api: Kie, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(completion_s=3600))
    task_id = await api.generate()
    flags = [(await api.veo_data(task_id))["successFlag"] for _ in range(3)]
    assert flags == [0, 0, 0]


async def test_unreachable_callback_is_recorded_not_fatal(api: Kie, kie: KieStandIn) -> None:
    task_id = await api.generate(callBackUrl="http://127.0.0.1:9/cb")
    [record] = await asyncio.to_thread(kie.sim.wait_for_callbacks, 1)
    assert (record.task_id, record.status_code) == (task_id, None)
    assert record.error is not None
    assert "ConnectError" in record.error
    assert (await api.veo_data(task_id))["successFlag"] == 1


# --------------------------------------------------------------------------- knobs


def outcomes(sim: KieSimulator, count: int) -> list[str]:
    return [sim.next_scenario("a cat").outcome for _ in range(count)]


def test_random_knobs_are_reproducible_with_a_seed() -> None:
    first = KieSimulator(seed=7, failure_rate=0.3, moderation_rate=0.3)
    second = KieSimulator(seed=7, failure_rate=0.3, moderation_rate=0.3)
    drawn = outcomes(first, 50)
    assert drawn == outcomes(second, 50)
    assert {"success", "fail", "moderation"} == set(drawn)


def test_rates_of_one_always_fail_but_explicit_scenarios_win() -> None:
    sim = KieSimulator(failure_rate=1.0)
    assert set(outcomes(sim, 5)) == {"fail"}
    sim.queue_scenario(Scenario(outcome="success"))
    assert sim.next_scenario("a cat").outcome == "success"
    assert sim.next_scenario("a cat [success]").outcome == "success"


def test_completion_range_draws_a_time_inside_it() -> None:
    sim = KieSimulator(seed=1, completion_s=(10.0, 20.0))
    times = [sim.next_scenario("x").completion_s for _ in range(20)]
    assert all(t is not None and 10.0 <= t <= 20.0 for t in times)


def test_reset_forgets_tasks_and_restores_knobs() -> None:
    sim = KieSimulator(failure_rate=0.5)
    sim.failure_rate = 1.0
    sim.default_scenario = Scenario(polls_before_done=4)
    sim.queue_scenario(Scenario(outcome="fail"))
    sim.record_submission({"prompt": "x"})
    sim.reset()
    assert (sim.failure_rate, sim.default_scenario, sim.submissions) == (0.5, Scenario(), [])
    assert sim.next_scenario("x").polls_before_done == 0


async def test_served_sim_state_is_readable_from_the_test_thread(kie: KieStandIn) -> None:
    # The server runs in another thread; what tests read are copies, never live objects.
    async with httpx.AsyncClient() as client:
        task_id = await Kie(client, kie).generate()
    tasks = kie.sim.tasks
    tasks[task_id].scenario.faults.append("500")
    assert kie.sim.tasks[task_id].scenario.faults == []


def test_standalone_app_serves_a_custom_video(tmp_path: Any) -> None:
    video = tmp_path / "mine.mp4"
    video.write_bytes(b"not really a video, but bytes to serve")
    sim = KieSimulator(api_key="k", video_path=video)
    with ThreadedServer(create_app(sim)) as server, httpx.Client() as client:
        headers = {"Authorization": "Bearer k"}
        task_id = client.post(f"{server.url}{GENERATE}", json={"prompt": "x"}, headers=headers).json()["data"]["taskId"]
        client.get(f"{server.url}{VEO_INFO}", params={"taskId": task_id}, headers=headers)
        assert client.get(f"{server.url}/files/{task_id}.mp4").content == video.read_bytes()
