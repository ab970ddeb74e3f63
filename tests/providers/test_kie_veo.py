"""The Veo adapter against the KIE simulator over real HTTP."""

from __future__ import annotations

import pytest

from poller.errors import ErrorCode, JobError
from poller.jobs import AspectRatio, JobOptions, TaskKind
from poller.ports import CancelOutcome, SubmitRequest, TaskRef, TaskState, VideoProvider
from providers.api_client import ApiClient
from providers.kie_veo import KieVeoProvider
from sandbox.kie_simulator import Scenario
from sandbox.serve import free_port
from tests.fixtures.kie import KieStandIn

pytestmark = pytest.mark.integration

CALLBACK = "http://127.0.0.1:9/callbacks/kie"  # loopback only; nothing listens there


def request(prompt: str = "a cat on a skateboard", **options: object) -> SubmitRequest:
    return SubmitRequest("veo3_fast", prompt, JobOptions(**options))  # type: ignore[arg-type]


def ref(task_id: str, model: str = "veo3_fast") -> TaskRef:
    return TaskRef(task_id, model)


async def submit(provider: KieVeoProvider, req: SubmitRequest) -> str:
    return (await provider.submit(req)).task_id


def extend(parent: str, prompt: str, model: str, callback: str | None) -> SubmitRequest:
    return SubmitRequest(model, prompt, callback_url=callback, kind=TaskKind.EXTEND, parent_task_id=parent)


def test_adapter_satisfies_the_port(veo: KieVeoProvider) -> None:
    assert isinstance(veo, VideoProvider)
    assert (veo.supports("veo3"), veo.supports("veo3_fast"), veo.supports("sora-2-text-to-video")) == (
        True,
        True,
        False,
    )
    assert veo.supports("veo3_lite")
    assert veo.supports_kind("veo3_fast", TaskKind.EXTEND)
    assert not veo.supports_kind("veo3_lite", TaskKind.EXTEND)
    assert not veo.supports_kind("sora-2-text-to-video", TaskKind.GENERATE)


async def test_kie_cannot_cancel_a_task(veo: KieVeoProvider) -> None:
    assert await veo.cancel(ref("veo_task_x")) is CancelOutcome.NOT_SUPPORTED


async def test_submit_sends_the_documented_generate_body(veo: KieVeoProvider, kie: KieStandIn) -> None:
    task_id = await submit(
        veo, SubmitRequest("veo3", "a cat", JobOptions(aspect_ratio=AspectRatio.PORTRAIT), callback_url=CALLBACK)
    )
    assert task_id.startswith("veo_task_")
    assert kie.sim.submissions == [
        {
            "prompt": "a cat",
            "aspect_ratio": "9:16",
            "model": "veo3",
            "aspectRatio": "9:16",
            "enableTranslation": True,
            "generationType": "TEXT_2_VIDEO",
            "callBackUrl": CALLBACK,
        }
    ]


async def test_submit_with_an_image_asks_for_first_frame_mode(veo: KieVeoProvider, kie: KieStandIn) -> None:
    await submit(veo, request(image_url="https://img.example/first.png"))
    [sent] = kie.sim.submissions
    assert sent["generationType"] == "FIRST_AND_LAST_FRAMES_2_VIDEO"
    assert sent["imageUrls"] == ["https://img.example/first.png"]
    assert "callBackUrl" not in sent


async def test_submit_with_first_and_last_frames_sends_both(veo: KieVeoProvider, kie: KieStandIn) -> None:
    await submit(veo, request(image_url="https://img.example/1.png", last_image_url="https://img.example/2.png"))
    [sent] = kie.sim.submissions
    assert sent["imageUrls"] == ["https://img.example/1.png", "https://img.example/2.png"]


async def test_lite_takes_a_first_frame_but_no_last_frame(veo: KieVeoProvider, kie: KieStandIn) -> None:
    lite = SubmitRequest("veo3_lite", "a cat", JobOptions(image_url="https://img.example/1.png"))
    await submit(veo, lite)
    assert kie.sim.submissions[0]["model"] == "veo3_lite"
    both = JobOptions(image_url="https://img.example/1.png", last_image_url="https://img.example/2.png")
    with pytest.raises(JobError, match="last frame") as caught:
        await submit(veo, SubmitRequest("veo3_lite", "a cat", both))
    assert caught.value.request_sent is False
    assert len(kie.sim.submissions) == 1


async def test_poll_reports_generating_then_the_video_url(veo: KieVeoProvider, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(polls_before_done=2))
    task_id = await submit(veo, request())
    states = [(await veo.poll(ref(task_id))).state for _ in range(2)]
    done = await veo.poll(ref(task_id))
    assert states == [TaskState.PENDING, TaskState.PENDING]
    assert done.state is TaskState.SUCCEEDED
    assert done.video_url == f"{kie.url}/files/{task_id}.mp4"
    assert done.parser == "veo_record_info"
    assert kie.sim.polls[task_id] == 3


@pytest.mark.parametrize(
    ("outcome", "code"), [("fail", ErrorCode.PROVIDER_ERROR), ("moderation", ErrorCode.MODERATION_REJECTED)]
)
async def test_failed_task_is_reported_with_a_normalized_error(
    veo: KieVeoProvider, kie: KieStandIn, outcome: str, code: ErrorCode
) -> None:
    kie.sim.queue_scenario(Scenario(outcome=outcome))  # type: ignore[arg-type]
    result = await veo.poll(ref(await submit(veo, request())))
    assert result.state is TaskState.FAILED
    assert result.error is not None
    assert result.error.code is code


async def test_extend_posts_the_extend_body_and_returns_a_new_task(veo: KieVeoProvider, kie: KieStandIn) -> None:
    parent = await submit(veo, request())
    assert (await veo.poll(ref(parent))).state is TaskState.SUCCEEDED
    child = await submit(veo, extend(parent, "the cat jumps", "veo3_fast", CALLBACK))
    assert child != parent
    assert kie.sim.submissions[-1] == {
        "taskId": parent,
        "prompt": "the cat jumps",
        "callBackUrl": CALLBACK,
        "model": "fast",
    }
    result = await veo.poll(ref(child))
    assert result.state is TaskState.SUCCEEDED
    assert result.video_url is not None
    assert kie.sim.tasks[child].parent_id == parent


async def test_extend_of_an_unknown_task_is_invalid_input(veo: KieVeoProvider) -> None:
    with pytest.raises(JobError) as caught:
        await submit(veo, extend("veo_task_missing", "more", "veo3", None))
    assert caught.value.code is ErrorCode.INVALID_INPUT


async def test_extend_of_a_non_veo_model_is_refused_without_a_request(veo: KieVeoProvider, kie: KieStandIn) -> None:
    with pytest.raises(JobError) as caught:
        await submit(veo, extend("task_x", "more", "sora-2-text-to-video", None))
    assert (caught.value.code, caught.value.request_sent) == (ErrorCode.INVALID_INPUT, False)
    assert kie.sim.submissions == []


@pytest.mark.parametrize(
    "options", [JobOptions(aspect_ratio=AspectRatio.SQUARE), JobOptions(duration_s=10)], ids=["1:1", "10s"]
)
async def test_options_veo_cannot_do_are_refused_before_any_request(
    veo: KieVeoProvider, kie: KieStandIn, options: JobOptions
) -> None:
    with pytest.raises(JobError) as caught:
        await submit(veo, SubmitRequest("veo3_fast", "a cat", options))
    assert (caught.value.code, caught.value.request_sent) == (ErrorCode.INVALID_INPUT, False)
    assert kie.sim.submissions == []


async def test_wrong_key_is_a_permanent_error_though_http_says_200(api_client: ApiClient, kie: KieStandIn) -> None:
    provider = KieVeoProvider(api_client, kie.url, "not-the-key")
    with pytest.raises(JobError) as caught:
        await submit(provider, request())
    assert caught.value.code is ErrorCode.PROVIDER_ERROR
    assert not caught.value.retryable
    assert kie.sim.tasks == {}


async def test_rate_limited_submit_carries_retry_after(veo: KieVeoProvider, kie: KieStandIn) -> None:
    kie.sim.retry_after_s = 7
    kie.sim.queue_scenario(Scenario(submit_fault="429"))
    with pytest.raises(JobError) as caught:
        await submit(veo, request())
    assert (caught.value.code, caught.value.retry_after) == (ErrorCode.RATE_LIMITED, 7.0)
    assert kie.sim.tasks == {}


@pytest.mark.parametrize("fault", ["455", "500", "502", "503"])
async def test_server_trouble_on_poll_is_retryable_and_the_next_poll_proceeds(
    veo: KieVeoProvider, kie: KieStandIn, fault: str
) -> None:
    kie.sim.queue_scenario(Scenario(faults=[fault]))
    task_id = await submit(veo, request())
    with pytest.raises(JobError) as caught:
        await veo.poll(ref(task_id))
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert (await veo.poll(ref(task_id))).state is TaskState.SUCCEEDED


@pytest.mark.parametrize("fault", ["malformed", "deep_json"])
async def test_malformed_poll_body_is_a_retryable_error(veo: KieVeoProvider, kie: KieStandIn, fault: str) -> None:
    kie.sim.queue_scenario(Scenario(faults=[fault]))
    task_id = await submit(veo, request())
    with pytest.raises(JobError) as caught:
        await veo.poll(ref(task_id))
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "malformed" in caught.value.raw


async def test_unknown_poll_shape_is_pending(veo: KieVeoProvider, kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(faults=["unknown_shape"]))
    task_id = await submit(veo, request())
    result = await veo.poll(ref(task_id))
    assert (result.state, result.parser) == (TaskState.PENDING, "unknown")


@pytest.mark.parametrize("fault", ["malformed", "unknown_shape"])
async def test_submit_answer_without_a_task_id_is_retryable_but_may_have_arrived(
    veo: KieVeoProvider, kie: KieStandIn, fault: str
) -> None:
    kie.sim.queue_scenario(Scenario(submit_fault=fault))
    with pytest.raises(JobError) as caught:
        await submit(veo, request())
    assert (caught.value.code, caught.value.request_sent) == (ErrorCode.PROVIDER_UNAVAILABLE, True)
    assert len(kie.sim.tasks) == 1  # it did arrive: resubmitting blindly would pay twice


async def test_submit_timeout_means_the_request_may_have_been_sent(kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(submit_fault="timeout"))
    async with ApiClient(timeout_s=0.3, max_connections=2) as client:
        with pytest.raises(JobError) as caught:
            await KieVeoProvider(client, kie.url, kie.api_key).submit(request())
    assert (caught.value.code, caught.value.request_sent) == (ErrorCode.PROVIDER_UNAVAILABLE, True)
    assert len(kie.sim.tasks) == 1


async def test_poll_timeout_is_retryable(kie: KieStandIn) -> None:
    kie.sim.queue_scenario(Scenario(faults=["timeout"]))
    async with ApiClient(timeout_s=0.3, max_connections=2) as client:
        provider = KieVeoProvider(client, kie.url, kie.api_key)
        task_id = await submit(provider, request())
        with pytest.raises(JobError) as caught:
            await provider.poll(ref(task_id))
        assert caught.value.retryable
        assert (await provider.poll(ref(task_id))).state is TaskState.SUCCEEDED


async def test_connection_refused_means_the_request_was_not_sent(api_client: ApiClient) -> None:
    provider = KieVeoProvider(api_client, f"http://127.0.0.1:{free_port()}", "key")
    with pytest.raises(JobError) as caught:
        await submit(provider, request())
    assert (caught.value.code, caught.value.request_sent) == (ErrorCode.PROVIDER_UNAVAILABLE, False)


@pytest.mark.parametrize("base_url", ["http://[::1", "ftp://127.0.0.1:9"])
async def test_unusable_base_url_is_a_permanent_configuration_error(api_client: ApiClient, base_url: str) -> None:
    with pytest.raises(JobError) as caught:
        await KieVeoProvider(api_client, base_url, "key").poll(ref("veo_task_x"))
    assert (caught.value.code, caught.value.request_sent) == (ErrorCode.PROVIDER_ERROR, False)


async def test_polling_an_unknown_task_is_a_provider_error(veo: KieVeoProvider) -> None:
    with pytest.raises(JobError) as caught:
        await veo.poll(ref("veo_task_nope"))
    assert caught.value.code is ErrorCode.PROVIDER_ERROR


async def test_provider_validation_error_is_invalid_input(veo: KieVeoProvider) -> None:
    with pytest.raises(JobError) as caught:
        await submit(veo, request("x" * 10_001))
    assert caught.value.code is ErrorCode.INVALID_INPUT


def test_normalize_error_uses_the_kie_table(veo: KieVeoProvider) -> None:
    assert veo.normalize_error(200, {"code": 402, "msg": "no credits"}).code is ErrorCode.INSUFFICIENT_CREDITS


async def test_aclose_closes_the_client(kie: KieStandIn) -> None:
    client = ApiClient(timeout_s=1.0, max_connections=1)
    await KieVeoProvider(client, kie.url, kie.api_key).aclose()
    assert client.closed
