"""The streaming downloader against the simulator's file endpoint (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import httpx
import pytest

from poller.errors import ErrorCode, JobError
from providers.download import HttpVideoDownloader
from sandbox.kie_simulator import Scenario
from sandbox.media import sample_mp4_bytes
from sandbox.serve import free_port
from tests.fixtures.kie import KieStandIn

pytestmark = pytest.mark.integration

MB = 1 << 20


async def finished_video_url(kie: KieStandIn, client: httpx.AsyncClient, scenario: Scenario | None = None) -> str:
    """Create a Veo task on the simulator, poll it to success and return its video URL."""
    if scenario is not None:
        kie.sim.queue_scenario(scenario)
    headers = {"Authorization": f"Bearer {kie.api_key}"}
    created = await client.post(f"{kie.url}/api/v1/veo/generate", json={"prompt": "x"}, headers=headers)
    task_id = created.json()["data"]["taskId"]
    info = await client.get(f"{kie.url}/api/v1/veo/record-info", params={"taskId": task_id}, headers=headers)
    url: str = info.json()["data"]["response"]["resultUrls"][0]
    return url


async def read_all(downloader: HttpVideoDownloader, url: str) -> list[bytes]:
    async with downloader.open(url) as chunks:
        return [chunk async for chunk in chunks]


async def test_streams_the_whole_video_in_chunks(kie: KieStandIn, http_client: httpx.AsyncClient) -> None:
    url = await finished_video_url(kie, http_client)
    chunks = await read_all(HttpVideoDownloader(http_client, max_bytes=10 * MB, chunk_size=4096), url)
    assert len(chunks) > 1
    assert max(len(chunk) for chunk in chunks) <= 4096
    assert b"".join(chunks) == sample_mp4_bytes()


async def test_refuses_early_when_content_length_is_over_the_limit(
    kie: KieStandIn, http_client: httpx.AsyncClient
) -> None:
    url = await finished_video_url(kie, http_client, Scenario(video_bytes=2 * MB))
    downloader = HttpVideoDownloader(http_client, max_bytes=1 * MB)
    entered = False
    with pytest.raises(JobError) as caught:
        async with downloader.open(url):
            entered = True
    assert not entered  # refused on the headers, before any chunk was handed out
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert "limit" in caught.value.raw


async def test_stops_mid_stream_past_the_limit_when_no_length_is_announced(
    kie: KieStandIn, http_client: httpx.AsyncClient
) -> None:
    url = await finished_video_url(kie, http_client, Scenario(video_bytes=3 * MB, download_faults=["chunked"]))
    downloader = HttpVideoDownloader(http_client, max_bytes=1 * MB, chunk_size=64 * 1024)
    received: list[bytes] = []

    async def consume() -> None:
        async with downloader.open(url) as chunks:
            async for chunk in chunks:
                received.append(chunk)

    with pytest.raises(JobError) as caught:
        await consume()
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert 0 < sum(len(chunk) for chunk in received) <= 1 * MB


async def test_exactly_the_limit_is_allowed(kie: KieStandIn, http_client: httpx.AsyncClient) -> None:
    url = await finished_video_url(kie, http_client, Scenario(video_bytes=MB, download_faults=["chunked"]))
    chunks = await read_all(HttpVideoDownloader(http_client, max_bytes=MB), url)
    assert sum(len(chunk) for chunk in chunks) == MB


async def test_missing_file_is_a_download_failure(kie: KieStandIn, http_client: httpx.AsyncClient) -> None:
    with pytest.raises(JobError) as caught:
        await read_all(HttpVideoDownloader(http_client, MB), f"{kie.url}/files/veo_task_missing.mp4")
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert "404" in caught.value.raw


@pytest.mark.parametrize("fault", ["500", "truncate"])
async def test_server_error_or_cut_off_body_is_a_download_failure_and_a_retry_works(
    kie: KieStandIn, http_client: httpx.AsyncClient, fault: str
) -> None:
    url = await finished_video_url(kie, http_client, Scenario(download_faults=[fault]))
    downloader = HttpVideoDownloader(http_client, 10 * MB)
    with pytest.raises(JobError) as caught:
        await read_all(downloader, url)
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert caught.value.retryable
    assert b"".join(await read_all(downloader, url)) == sample_mp4_bytes()


async def test_connection_refused_is_a_download_failure(http_client: httpx.AsyncClient) -> None:
    with pytest.raises(JobError) as caught:
        await read_all(HttpVideoDownloader(http_client, MB), f"http://127.0.0.1:{free_port()}/v.mp4")
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED


async def test_non_http_url_is_refused_without_a_request(http_client: httpx.AsyncClient) -> None:
    with pytest.raises(JobError) as caught:
        await read_all(HttpVideoDownloader(http_client, MB), "file:///etc/passwd")
    assert (caught.value.code, caught.value.request_sent) == (ErrorCode.DOWNLOAD_FAILED, False)


async def test_unparseable_url_is_a_download_failure(http_client: httpx.AsyncClient) -> None:
    with pytest.raises(JobError) as caught:
        await read_all(HttpVideoDownloader(http_client, MB), "http://[::1/v.mp4")
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED


async def test_consumer_errors_pass_through_unchanged(kie: KieStandIn, http_client: httpx.AsyncClient) -> None:
    url = await finished_video_url(kie, http_client)

    async def upload_that_fails() -> None:
        async with HttpVideoDownloader(http_client, 10 * MB).open(url) as chunks:
            async for _ in chunks:
                raise JobError(ErrorCode.UPLOAD_FAILED, "S3 said no")

    with pytest.raises(JobError) as caught:
        await upload_that_fails()
    assert caught.value.code is ErrorCode.UPLOAD_FAILED


def test_limits_must_be_positive(http_client: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="positive"):
        HttpVideoDownloader(http_client, max_bytes=0)
