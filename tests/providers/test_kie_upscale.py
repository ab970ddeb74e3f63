"""The Veo adapter's upgrade routes (1080p, 4K): against the KIE simulator over real HTTP, and the answer readers on
the documented shapes and on the ones KIE does not document."""

from __future__ import annotations

from typing import Any

import pytest

from poller.errors import ErrorCode, JobError
from poller.jobs import TaskKind
from poller.ports import SubmitRequest, SubmittedTask, TaskRef, TaskState
from providers.kie_common import Envelope
from providers.kie_upscale import read_4k, read_1080p
from providers.kie_veo import KieVeoProvider
from sandbox.kie.upgrade_api import DONE_4K, PROCESSING_4K, UNAVAILABLE_4K
from tests.fixtures.kie import KieStandIn

CALLBACK = "http://127.0.0.1:9/callbacks/kie/token"  # loopback only; nothing listens there
HD, UHD = TaskKind.UPSCALE_1080P, TaskKind.UPSCALE_4K


async def finished_video(veo: KieVeoProvider, prompt: str = "a cat", model: str = "veo3_fast") -> str:
    task = await veo.submit(SubmitRequest(model, prompt))
    assert (await veo.poll(TaskRef(task.task_id, model))).state is TaskState.SUCCEEDED
    return task.task_id


def upscale(kind: TaskKind, parent: str | None, model: str = "veo3_fast", callback: str | None = None) -> SubmitRequest:
    return SubmitRequest(model, "a cat", kind=kind, parent_task_id=parent, callback_url=callback)


def ref(submitted: SubmittedTask, kind: TaskKind, model: str = "veo3_fast") -> TaskRef:
    return TaskRef(submitted.task_id, model, kind, submitted.meta)


def test_only_upscalable_veo_models_take_upgrades(veo: KieVeoProvider) -> None:
    for kind in (HD, UHD):
        assert veo.supports_kind("veo3_fast", kind)
        assert veo.supports_kind("veo3", kind)
        assert not veo.supports_kind("veo3_lite", kind)
        assert not veo.supports_kind("bytedance/seedance-2", kind)


@pytest.mark.integration
async def test_1080p_asks_once_at_submit_then_polls_until_the_url(veo: KieVeoProvider, kie: KieStandIn) -> None:
    parent = await finished_video(veo, "a cat [upgrade_polls=2]")

    submitted = await veo.submit(upscale(HD, parent))
    states = [(await veo.poll(ref(submitted, HD))).state for _ in range(2)]
    done = await veo.poll(ref(submitted, HD))

    assert submitted == SubmittedTask(parent, {"index": "0"})
    assert states == [TaskState.PENDING, TaskState.PENDING]
    assert done.state is TaskState.SUCCEEDED
    assert done.video_url is not None
    assert done.video_url.endswith(f"/files/upgrades/{parent}/1080p.mp4")
    assert [(call.kind, call.task_id, call.index) for call in kie.sim.upgrades.calls] == [("1080p", parent, 0)] * 4
    assert kie.sim.upgrades.paid_calls("4k") == []


@pytest.mark.integration
@pytest.mark.parametrize("parent", ["veo_task_nosuchtask", "SLOW"])
async def test_1080p_of_a_video_kie_cannot_upgrade_fails_at_submit_as_a_provider_error(
    veo: KieVeoProvider, parent: str
) -> None:
    if parent == "SLOW":
        parent = (await veo.submit(SubmitRequest("veo3_fast", "a slow one [polls=9]"))).task_id

    with pytest.raises(JobError) as caught:
        await veo.submit(upscale(HD, parent))

    assert caught.value.code is ErrorCode.PROVIDER_ERROR  # not "check the prompt": the user typed none
    assert not caught.value.retryable


@pytest.mark.integration
async def test_1080p_that_fails_while_rendering_ends_the_job(veo: KieVeoProvider) -> None:
    parent = await finished_video(veo, "a cat [upgrade_polls=1] [upgrade=fail]")
    submitted = await veo.submit(upscale(HD, parent))

    rendering, result = [await veo.poll(ref(submitted, HD)) for _ in range(2)]

    assert rendering.state is TaskState.PENDING
    assert result.state is TaskState.FAILED
    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_ERROR


@pytest.mark.integration
async def test_4k_is_posted_once_with_the_callback_and_polled_by_repeats_that_cost_nothing(
    veo: KieVeoProvider, kie: KieStandIn
) -> None:
    parent = await finished_video(veo, "a cat [upgrade_polls=2]", model="veo3")

    submitted = await veo.submit(upscale(UHD, parent, model="veo3", callback=CALLBACK))
    states = [(await veo.poll(ref(submitted, UHD, "veo3"))).state for _ in range(2)]
    done = await veo.poll(ref(submitted, UHD, "veo3"))

    assert submitted == SubmittedTask(parent, {"index": "0"})
    assert states == [TaskState.PENDING, TaskState.PENDING]
    assert (done.state, done.parser) == (TaskState.SUCCEEDED, "veo_4k")
    assert done.video_url is not None
    assert done.video_url.endswith(f"/files/upgrades/{parent}/4k.mp4")
    assert [(call.code, call.paid) for call in kie.sim.upgrades.calls] == [
        (200, True),
        (422, False),
        (422, False),
        (422, False),
    ]
    upgrade = kie.sim.upgrades.get("4k", parent)
    assert upgrade is not None
    assert upgrade.callback_url == CALLBACK


@pytest.mark.integration
async def test_4k_already_rendering_for_this_video_is_accepted_without_a_second_charge(
    veo: KieVeoProvider, kie: KieStandIn
) -> None:
    parent = await finished_video(veo, "a cat [upgrade_polls=5]")
    await veo.submit(upscale(UHD, parent))

    again = await veo.submit(upscale(UHD, parent))

    assert again.task_id == parent
    assert len(kie.sim.upgrades.paid_calls("4k")) == 1


@pytest.mark.integration
async def test_4k_unavailable_ends_the_job_as_a_provider_error(veo: KieVeoProvider) -> None:
    parent = await finished_video(veo, "a cat [upgrade_polls=0] [upgrade=fail]")
    submitted = await veo.submit(upscale(UHD, parent))

    result = await veo.poll(ref(submitted, UHD))

    assert result.state is TaskState.FAILED
    assert result.error is not None
    assert (result.error.code, result.error.raw) == (ErrorCode.PROVIDER_ERROR, f"4K failed: code 500: {UNAVAILABLE_4K}")


async def test_an_upgrade_of_lite_or_without_a_parent_is_refused_before_any_request(
    veo: KieVeoProvider, kie: KieStandIn
) -> None:
    for request in (upscale(UHD, "veo_task_x", model="veo3_lite"), upscale(HD, None)):
        with pytest.raises(JobError) as caught:
            await veo.submit(request)
        assert (caught.value.code, caught.value.request_sent) == (ErrorCode.INVALID_INPUT, False)
    assert kie.sim.upgrades.calls == []


# --------------------------------------------------------------------------- the readers, on every shape


def envelope(code: int, msg: str = "", data: Any = None, *, http_status: int = 200) -> Envelope:
    return Envelope(http_status, {"code": code, "msg": msg, "data": data})


URL = "https://tempfile.aiquickdraw.com/v/x.mp4"


@pytest.mark.parametrize(
    ("answer", "state", "url"),
    [
        (envelope(200, "success", {"resultUrl": URL}), TaskState.SUCCEEDED, URL),
        (envelope(200, "success", {"resultUrl": ""}), TaskState.PENDING, None),
        (envelope(400, "1080P is processing. Please check back shortly."), TaskState.PENDING, None),
        (envelope(422, "1080p video is not ready"), TaskState.PENDING, None),
        (envelope(404, "task not found"), TaskState.FAILED, None),
        (envelope(422, "record status is not success"), TaskState.FAILED, None),
    ],
)
def test_1080p_answers(answer: Envelope, state: TaskState, url: str | None) -> None:
    result = read_1080p(answer)
    assert (result.state, result.video_url) == (state, url)


@pytest.mark.parametrize(
    ("answer", "state", "url", "cost"),
    [
        (envelope(200, "success", {"taskId": "t", "resultUrls": None}), TaskState.PENDING, None, None),
        (envelope(422, PROCESSING_4K, {"taskId": "t", "resultUrls": None}), TaskState.PENDING, None, None),
        (envelope(422, PROCESSING_4K, None, http_status=422), TaskState.PENDING, None, None),
        (envelope(422, DONE_4K, {"taskId": "t", "resultUrls": [URL]}), TaskState.SUCCEEDED, URL, None),
        (envelope(200, "success", {"resultUrls": [URL], "creditsConsumed": 120}), TaskState.SUCCEEDED, URL, 120.0),
        (envelope(500, UNAVAILABLE_4K, {"taskId": "t"}), TaskState.FAILED, None, None),
        (envelope(422, "record status is not success"), TaskState.FAILED, None, None),
    ],
)
def test_4k_answers(answer: Envelope, state: TaskState, url: str | None, cost: float | None) -> None:
    result = read_4k(answer, polling=True)
    assert (result.state, result.video_url, result.cost) == (state, url, cost)


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (envelope(429, "Rate limit exceeded", http_status=429), ErrorCode.RATE_LIMITED),
        (envelope(500, "Internal server error"), ErrorCode.PROVIDER_UNAVAILABLE),
        (envelope(455, "Service under maintenance"), ErrorCode.PROVIDER_UNAVAILABLE),
    ],
)
def test_server_trouble_on_an_upgrade_is_retried_not_final(answer: Envelope, code: ErrorCode) -> None:
    for read in (read_1080p, read_4k):
        with pytest.raises(JobError) as caught:
            read(answer)
        assert caught.value.code is code
        assert caught.value.retryable


def test_a_paid_refusal_is_final_and_says_why() -> None:
    result = read_4k(envelope(402, "Insufficient credits"))
    assert result.state is TaskState.FAILED
    assert result.error is not None
    assert result.error.code is ErrorCode.INSUFFICIENT_CREDITS
