"""A provider stand-in answering JSON nested deeper than Python's parser can follow: a malformed answer (retried,
and for a create an unknown outcome), never a crash of the step. Both HTTP paths: polls (keep-alive), submits."""

from __future__ import annotations

import pytest

from poller.errors import ErrorCode, JobError
from poller.ports import SubmitRequest, TaskRef
from providers.api_client import ApiClient
from providers.kie_veo import KieVeoProvider
from tests.fixtures.scripted_http import Peer, Serve, answer

DEPTH = 100_000  # 200 KB of brackets: well under the 1 MiB answer limit
DEEP = b'{"code": 200, "msg": "success", "data": {"response": ' + b"[" * DEPTH + b"]" * DEPTH + b"}}"


async def deep(head: bytes, peer: Peer) -> None:
    await peer.send(answer(DEEP, headers="Content-Type: application/json\r\n"))


@pytest.fixture
async def provider(serve: Serve) -> KieVeoProvider:
    server = await serve(deep)
    return KieVeoProvider(ApiClient(timeout_s=2, max_connections=2), server.url, "key")


async def test_a_deep_poll_answer_is_a_retryable_malformed_answer(provider: KieVeoProvider) -> None:
    try:
        with pytest.raises(JobError) as caught:
            await provider.poll(TaskRef("veo_task_1", "veo3_fast"))
    finally:
        await provider.aclose()
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert caught.value.retryable
    assert "malformed" in caught.value.raw


async def test_a_deep_submit_answer_may_have_created_a_task(provider: KieVeoProvider) -> None:
    try:
        with pytest.raises(JobError) as caught:
            await provider.submit(SubmitRequest(model="veo3_fast", prompt="a deep sea"))
    finally:
        await provider.aclose()
    assert caught.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert caught.value.outcome_unknown  # a 2xx to a create: never resubmitted blindly
