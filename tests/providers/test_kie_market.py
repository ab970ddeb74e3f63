"""The Market adapter (Sora 2, Seedance) against the KIE simulator over real HTTP."""

from __future__ import annotations

import pytest

from poller.errors import ErrorCode, JobError
from poller.jobs import AspectRatio, JobOptions, TaskKind
from poller.ports import CancelOutcome, SubmitRequest, TaskRef, TaskState, VideoProvider
from providers.api_client import ApiClient
from providers.kie_market import KieMarketProvider
from sandbox.kie_simulator import Scenario
from tests.fixtures.kie import KieStandIn

pytestmark = pytest.mark.integration

SORA = "sora-2-text-to-video"
SEEDANCE = "bytedance/v1-pro-text-to-video"
CALLBACK = "http://127.0.0.1:9/callbacks/kie"  # loopback only; nothing listens there


def ref(task_id: str, model: str = SORA) -> TaskRef:
    return TaskRef(task_id, model)


async def submit(market: KieMarketProvider, req: SubmitRequest) -> str:
    return (await market.submit(req)).task_id


def sora(prompt: str = "a fox in the snow", **options: object) -> SubmitRequest:
    return SubmitRequest(SORA, prompt, JobOptions(**{"duration_s": 10, **options}))  # type: ignore[arg-type]


def test_adapter_satisfies_the_port(market: KieMarketProvider) -> None:
    assert isinstance(market, VideoProvider)
    assert market.supports(SORA)
    assert market.supports(SEEDANCE)
    assert not market.supports("veo3_fast")
    assert not market.supports_kind(SORA, TaskKind.EXTEND)
    assert market.supports_kind("kling-3.0/video:pro", TaskKind.GENERATE)


async def test_kie_market_cannot_cancel(market: KieMarketProvider) -> None:
    assert await market.cancel(ref("task_x")) is CancelOutcome.NOT_SUPPORTED


async def test_sora_body_uses_orientation_words_and_string_frames(market: KieMarketProvider, kie: KieStandIn) -> None:
    await submit(
        market, SubmitRequest(SORA, "a fox", JobOptions(AspectRatio.PORTRAIT, duration_s=15), callback_url=CALLBACK)
    )
    assert kie.sim.submissions == [
        {
            "model": SORA,
            "input": {"prompt": "a fox", "aspect_ratio": "portrait", "n_frames": "15", "remove_watermark": True},
            "callBackUrl": CALLBACK,
        }
    ]


async def test_seedance_body_uses_ratio_string_duration_and_resolution(
    market: KieMarketProvider, kie: KieStandIn
) -> None:
    options = JobOptions(AspectRatio.SQUARE, duration_s=5, resolution="720p")
    await submit(market, SubmitRequest(SEEDANCE, "a fox", options))
    assert kie.sim.submissions == [
        {
            "model": SEEDANCE,
            "input": {"prompt": "a fox", "aspect_ratio": "1:1", "duration": "5", "resolution": "720p"},
        }
    ]


async def test_seedance_1_with_a_photo_goes_to_its_image_model(market: KieMarketProvider, kie: KieStandIn) -> None:
    options = JobOptions(duration_s=10, image_url="https://img.example/a.png", resolution="1080p")
    await submit(market, SubmitRequest(SEEDANCE, "a fox", options))
    assert kie.sim.submissions == [
        {
            "model": "bytedance/v1-pro-image-to-video",
            "input": {
                "prompt": "a fox",
                "duration": "10",
                "resolution": "1080p",
                "image_url": "https://img.example/a.png",
            },
        }
    ]


async def test_seedance_2_sends_each_frame_in_its_own_field(market: KieMarketProvider, kie: KieStandIn) -> None:
    options = JobOptions(
        AspectRatio.PORTRAIT,
        duration_s=5,
        image_url="https://img.example/1.png",
        last_image_url="https://img.example/2.png",
    )
    await submit(market, SubmitRequest("bytedance/seedance-2-fast", "a fox", options))
    assert kie.sim.submissions == [
        {
            "model": "bytedance/seedance-2-fast",
            "input": {
                "prompt": "a fox",
                "generate_audio": True,
                "aspect_ratio": "9:16",
                "duration": 5,
                "first_frame_url": "https://img.example/1.png",
                "last_frame_url": "https://img.example/2.png",
            },
        }
    ]


@pytest.mark.parametrize("mode", ["std", "pro"])
async def test_kling_3_is_one_provider_model_in_two_modes(
    market: KieMarketProvider, kie: KieStandIn, mode: str
) -> None:
    options = JobOptions(duration_s=10, image_url="https://img.example/1.png")
    await submit(market, SubmitRequest(f"kling-3.0/video:{mode}", "a fox", options))
    assert kie.sim.submissions == [
        {
            "model": "kling-3.0/video",
            "input": {
                "prompt": "a fox",
                "mode": mode,
                "sound": True,
                "multi_shots": False,
                "aspect_ratio": "16:9",
                "duration": "10",
                "image_urls": ["https://img.example/1.png"],
            },
        }
    ]


async def test_sora_with_a_photo_goes_to_its_image_model(market: KieMarketProvider, kie: KieStandIn) -> None:
    await submit(market, sora(image_url="https://img.example/a.png"))
    [sent] = kie.sim.submissions
    assert (sent["model"], sent["input"]["image_urls"]) == ("sora-2-image-to-video", ["https://img.example/a.png"])


async def test_poll_reports_progress_then_the_video_url(market: KieMarketProvider, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(polls_before_done=2))
    task_id = await submit(market, sora())
    first, second, done = [await market.poll(ref(task_id)) for _ in range(3)]
    assert (first.state, second.state) == (TaskState.PENDING, TaskState.PENDING)
    assert first.progress is not None
    assert second.progress is not None
    assert first.progress < second.progress
    assert (done.state, done.video_url, done.parser) == (
        TaskState.SUCCEEDED,
        f"{kie.url}/files/{task_id}.mp4",
        "market_record_info",
    )


@pytest.mark.parametrize(
    ("outcome", "code"), [("fail", ErrorCode.PROVIDER_ERROR), ("moderation", ErrorCode.MODERATION_REJECTED)]
)
async def test_failed_task_is_reported_with_a_normalized_error(
    market: KieMarketProvider, kie: KieStandIn, outcome: str, code: ErrorCode
) -> None:
    kie.sim.queue_scenario(Scenario(outcome=outcome))  # type: ignore[arg-type]
    result = await market.poll(ref(await submit(market, sora())))
    assert result.state is TaskState.FAILED
    assert result.error is not None
    assert result.error.code is code


async def test_extend_is_not_supported(market: KieMarketProvider, kie: KieStandIn) -> None:
    with pytest.raises(JobError) as caught:
        await market.submit(SubmitRequest(SORA, "more", kind=TaskKind.EXTEND, parent_task_id="task_x"))
    assert (caught.value.code, caught.value.request_sent) == (ErrorCode.INVALID_INPUT, False)
    assert kie.sim.submissions == []


@pytest.mark.parametrize(
    "req",
    [
        sora(aspect_ratio=AspectRatio.SQUARE),
        sora(duration_s=8),
        sora(image_url="https://img.example/a.png", last_image_url="https://img.example/b.png"),
        SubmitRequest("veo3_fast", "a fox"),
    ],
    ids=["sora-1:1", "sora-8s", "last-frame", "not-a-market-model"],
)
async def test_requests_the_model_cannot_serve_are_refused_before_any_request(
    market: KieMarketProvider, kie: KieStandIn, req: SubmitRequest
) -> None:
    with pytest.raises(JobError) as caught:
        await submit(market, req)
    assert (caught.value.code, caught.value.request_sent) == (ErrorCode.INVALID_INPUT, False)
    assert kie.sim.submissions == []


async def test_wrong_key_is_a_permanent_error(api_client: ApiClient, kie: KieStandIn) -> None:
    with pytest.raises(JobError) as caught:
        await KieMarketProvider(api_client, kie.url, "wrong").poll(ref("task_x"))
    assert caught.value.code is ErrorCode.PROVIDER_ERROR


async def test_rate_limited_poll_carries_retry_after(market: KieMarketProvider, kie: KieStandIn) -> None:
    kie.sim.retry_after_s = 3
    kie.sim.queue_scenario(Scenario(faults=["429"]))
    task_id = await submit(market, sora())
    with pytest.raises(JobError) as caught:
        await market.poll(ref(task_id))
    assert (caught.value.code, caught.value.retry_after) == (ErrorCode.RATE_LIMITED, 3.0)


async def test_insufficient_credits_on_submit(market: KieMarketProvider, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(submit_fault="402"))
    with pytest.raises(JobError) as caught:
        await submit(market, sora())
    assert caught.value.code is ErrorCode.INSUFFICIENT_CREDITS


async def test_malformed_poll_body_is_a_retryable_error(market: KieMarketProvider, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(faults=["malformed"]))
    task_id = await submit(market, sora())
    with pytest.raises(JobError) as caught:
        await market.poll(ref(task_id))
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE


async def test_polling_an_unknown_task_is_refused(market: KieMarketProvider) -> None:
    # KIE answers {"code": 422, "msg": "recordInfo is null"} for a task it does not know.
    with pytest.raises(JobError) as caught:
        await market.poll(ref("task_unknown"))
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert "recordInfo is null" in caught.value.raw
