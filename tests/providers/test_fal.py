"""The fal adapter against the fal simulator over real HTTP: submits, statuses, results, errors and cancels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from poller.errors import ErrorCode, JobError
from poller.jobs import AspectRatio, JobOptions, TaskKind
from poller.ports import CancelOutcome, PollResult, SubmitRequest, TaskRef, TaskState, VideoProvider
from providers.api_client import ApiClient
from providers.fal import FalProvider, fallback_url
from sandbox.fal import FalScenario
from tests.fixtures.fal import FalStandIn

pytestmark = pytest.mark.integration

VEO_FAST = "fal-ai/veo3/fast"
KLING = "fal-ai/kling-video/v2.5-turbo/pro/text-to-video"
CALLBACK = "https://reelay.example/callbacks/fal/tok123"
PHOTO = "https://files.example/inputs/job.jpg"


@pytest.fixture
async def provider(fal: FalStandIn) -> AsyncIterator[FalProvider]:
    client = ApiClient(timeout_s=2.0, max_connections=4)
    yield FalProvider(client, fal.url, fal.api_key)
    await client.aclose()


async def submit(provider: FalProvider, prompt: str = "a fox in the snow", model: str = VEO_FAST) -> TaskRef:
    task = await provider.submit(SubmitRequest(model, prompt))
    return TaskRef(task.task_id, model, meta=task.meta)


async def poll_until_done(provider: FalProvider, task: TaskRef, limit: int = 10) -> list[PollResult]:
    results = []
    for _ in range(limit):
        results.append(await provider.poll(task))
        if results[-1].state is not TaskState.PENDING:
            return results
    raise AssertionError(f"still pending after {limit} polls: {results}")


def test_adapter_satisfies_the_port(provider: FalProvider) -> None:
    assert isinstance(provider, VideoProvider)
    assert provider.name == "fal"
    assert provider.supports(VEO_FAST)
    assert provider.supports(KLING)
    assert not provider.supports("veo3_fast")
    assert provider.supports_kind(VEO_FAST, TaskKind.GENERATE)
    assert not provider.supports_kind(VEO_FAST, TaskKind.EXTEND)


async def test_submit_posts_the_catalog_fields_with_the_key_and_keeps_the_urls(
    provider: FalProvider, fal: FalStandIn
) -> None:
    task = await provider.submit(SubmitRequest(VEO_FAST, "a fox", JobOptions(AspectRatio.PORTRAIT, duration_s=8)))

    [call] = fal.sim.calls_to("POST")
    assert call.authorized
    assert call.path == "/fal-ai/veo3/fast"
    assert call.body == {"prompt": "a fox", "aspect_ratio": "9:16", "duration": "8s", "generate_audio": True}
    assert call.query == {}, "no fal_webhook without a callback URL"
    base = f"{fal.url}/fal-ai/veo3/requests/{task.task_id}"
    assert task.meta == {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}


async def test_a_callback_url_becomes_the_fal_webhook_parameter(provider: FalProvider, fal: FalStandIn) -> None:
    await provider.submit(SubmitRequest(VEO_FAST, "a fox", callback_url=CALLBACK))

    assert fal.sim.calls_to("POST")[0].query == {"fal_webhook": CALLBACK}


async def test_a_job_with_a_photo_goes_to_the_image_to_video_endpoint(provider: FalProvider, fal: FalStandIn) -> None:
    await provider.submit(SubmitRequest(KLING, "the fox runs", JobOptions(duration_s=10, image_url=PHOTO)))

    [call] = fal.sim.calls_to("POST")
    assert call.path == "/fal-ai/kling-video/v2.5-turbo/pro/image-to-video"
    # The image endpoint takes its shape from the photo: no aspect_ratio.
    assert call.body == {"prompt": "the fox runs", "duration": "10", "image_url": PHOTO}


async def test_options_the_model_cannot_do_are_refused_before_any_call(provider: FalProvider, fal: FalStandIn) -> None:
    with pytest.raises(JobError) as caught:
        await provider.submit(SubmitRequest(VEO_FAST, "a fox", JobOptions(duration_s=5)))

    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert not caught.value.request_sent
    assert fal.sim.calls == []


async def test_queued_request_reports_its_place_then_runs_then_gives_the_video(
    provider: FalProvider, fal: FalStandIn
) -> None:
    task = await submit(provider, "a fox [queue=3] [running=1]")

    results = await poll_until_done(provider, task)

    assert [r.queue_position for r in results] == [2, 1, 0, None, None]
    assert [r.state for r in results][:-1] == [TaskState.PENDING] * 4
    assert results[-1].state is TaskState.SUCCEEDED
    assert results[-1].video_url == f"{fal.url}/files/{task.task_id}.mp4"
    async with httpx.AsyncClient() as client:
        video = await client.get(results[-1].video_url)
    assert video.status_code == 200
    assert video.content[4:8] == b"ftyp"
    assert all(call.authorized for call in fal.sim.calls)


async def test_content_policy_violation_is_a_moderation_failure(provider: FalProvider) -> None:
    task = await submit(provider, "something [moderation]")

    result = (await poll_until_done(provider, task))[-1]

    assert result.state is TaskState.FAILED
    assert result.error is not None
    assert result.error.code is ErrorCode.MODERATION_REJECTED


async def test_a_runner_failure_is_a_transient_failure(provider: FalProvider) -> None:
    task = await submit(provider, "something [fail]")

    result = (await poll_until_done(provider, task))[-1]

    assert result.state is TaskState.FAILED
    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "runner_server_error" in result.error.raw


async def test_an_unknown_request_is_a_retryable_missing_task(provider: FalProvider) -> None:
    task = await submit(provider, "a fox [lost]")

    with pytest.raises(JobError) as caught:
        await provider.poll(task)

    assert caught.value.task_missing
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("marker", "code", "down"),
    [("[busy]", ErrorCode.RATE_LIMITED, False), ("[down]", ErrorCode.PROVIDER_UNAVAILABLE, True)],
)
async def test_submit_refusals_are_retryable_and_leave_no_task(
    provider: FalProvider, fal: FalStandIn, marker: str, code: ErrorCode, down: bool
) -> None:
    with pytest.raises(JobError) as caught:
        await submit(provider, f"a fox {marker}")

    error = caught.value
    assert (error.code, error.provider_down) == (code, down)
    assert error.retryable
    assert not error.outcome_unknown, "refused: failover may move the job on"
    assert fal.sim.requests == []


async def test_a_wrong_key_is_a_permanent_error_that_never_shows_the_key(fal: FalStandIn) -> None:
    client = ApiClient(timeout_s=2.0, max_connections=2)
    wrong = FalProvider(client, fal.url, "wrong-secret-key")
    try:
        with pytest.raises(JobError) as caught:
            await submit(wrong)
    finally:
        await client.aclose()

    assert caught.value.code is ErrorCode.PROVIDER_ERROR
    assert not caught.value.retryable
    assert "wrong-secret-key" not in str(caught.value)


async def test_a_timeout_after_sending_a_submit_leaves_its_outcome_unknown(fal: FalStandIn) -> None:
    # A port that accepts but never answers: the submit may have reached fal.
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = ApiClient(timeout_s=0.3, max_connections=2)
    try:
        with pytest.raises(JobError) as caught:
            await submit(FalProvider(client, f"http://127.0.0.1:{port}", fal.api_key))
    finally:
        await client.aclose()
        server.close()

    assert caught.value.outcome_unknown


async def test_cancel_while_queued_stops_it(provider: FalProvider, fal: FalStandIn) -> None:
    task = await submit(provider, "a fox [queue=5]")

    assert await provider.cancel(task) is CancelOutcome.CANCELLED
    assert [call.path for call in fal.sim.calls_to("PUT")] == [f"/fal-ai/veo3/requests/{task.task_id}/cancel"]


async def test_cancel_after_completion_says_it_finished(provider: FalProvider) -> None:
    task = await submit(provider)
    await poll_until_done(provider, task)

    assert await provider.cancel(task) is CancelOutcome.ALREADY_DONE


async def test_cancel_of_an_unknown_request_cannot_stop_anything(provider: FalProvider) -> None:
    ghost = TaskRef("no-such-request", VEO_FAST)

    assert await provider.cancel(ghost) is CancelOutcome.NOT_SUPPORTED


async def test_without_stored_urls_the_documented_app_path_is_used(provider: FalProvider, fal: FalStandIn) -> None:
    task = await submit(provider, "a fox [queue=1]")
    bare = TaskRef(task.task_id, VEO_FAST)  # a job stored without meta

    assert (await provider.poll(bare)).queue_position == 0
    assert fal.sim.calls_to("GET")[-1].path == f"/fal-ai/veo3/requests/{task.task_id}/status"


async def test_urls_off_the_queue_host_are_never_sent_the_key(provider: FalProvider, fal: FalStandIn) -> None:
    fal.sim.queue_scenario(FalScenario(queue=2))
    task = await submit(provider)
    forged = TaskRef(task.task_id, VEO_FAST, meta={"status_url": "http://127.0.0.2:9/steal"})

    assert (await provider.poll(forged)).queue_position == 1  # answered by the queue, at the app-only path


def test_fallback_urls_follow_the_app_only_path() -> None:
    task = TaskRef("r1", KLING)

    assert fallback_url("https://queue.fal.run/", task, "status_url") == (
        "https://queue.fal.run/fal-ai/kling-video/requests/r1/status"
    )
    assert fallback_url("https://queue.fal.run", task, "response_url") == (
        "https://queue.fal.run/fal-ai/kling-video/requests/r1"
    )
    assert fallback_url("https://queue.fal.run", task, "cancel_url").endswith("/requests/r1/cancel")
