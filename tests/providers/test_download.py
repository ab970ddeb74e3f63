"""The streaming downloader against the simulator's file endpoint (real HTTP on 127.0.0.1).

A small local app (also on 127.0.0.1) stands in for what the simulator does not do: redirects,
a body that stalls, and echoing the request headers. Every server here is on loopback, so these downloaders
allow private addresses; the address checks are in test_download_safety.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Protocol
from urllib.parse import quote

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from structlog.testing import capture_logs

from outbound import AddressPolicy, Network, Proxies
from poller.errors import ErrorCode, JobError
from providers.api_client import ApiClient
from providers.download import MAX_REDIRECTS, HttpVideoDownloader
from providers.http import USER_AGENT
from sandbox.kie_simulator import Scenario
from sandbox.media import sample_mp4_bytes
from sandbox.serve import ThreadedServer, free_port
from tests.fixtures.kie import KieStandIn

pytestmark = pytest.mark.integration

MB = 1 << 20
TIMEOUT_S = 2.0


class MakeDownloader(Protocol):
    def __call__(
        self,
        max_bytes: int,
        *,
        timeout_s: float = TIMEOUT_S,
        max_connections: int = 16,
        chunk_size: int = MB,
        max_redirects: int = MAX_REDIRECTS,
    ) -> HttpVideoDownloader: ...


@pytest.fixture
async def make_downloader() -> AsyncIterator[MakeDownloader]:
    """Build downloaders like production's (short timeouts for fast failure tests); all closed afterwards."""
    built: list[HttpVideoDownloader] = []

    def make(
        max_bytes: int,
        *,
        timeout_s: float = TIMEOUT_S,
        max_connections: int = 16,
        chunk_size: int = MB,
        max_redirects: int = MAX_REDIRECTS,
    ) -> HttpVideoDownloader:
        downloader = HttpVideoDownloader(
            max_bytes,
            timeout_s=timeout_s,
            network=loopback(),
            max_connections=max_connections,
            chunk_size=chunk_size,
            max_redirects=max_redirects,
        )
        built.append(downloader)
        return downloader

    yield make
    for downloader in built:
        await downloader.aclose()


async def _redirect(request: Request) -> Response:
    return RedirectResponse(request.query_params["to"], status_code=302)


async def _loop(request: Request) -> Response:
    return RedirectResponse("/loop?sig=secret-signature", status_code=302)


async def _stall(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        await asyncio.sleep(5)  # the client's read timeout runs out long before

    return StreamingResponse(body(), media_type="video/mp4")


async def _headers(request: Request) -> Response:
    seen = {name: request.headers.get(name) for name in ("user-agent", "accept-encoding")}
    return Response(json.dumps(seen), media_type="application/octet-stream")


@pytest.fixture(scope="module")
def local_server() -> Iterator[str]:
    """A local app with the behaviours the simulator lacks; yields its base URL."""
    app = Starlette(
        routes=[
            Route("/redirect", _redirect),
            Route("/loop", _loop),
            Route("/stall", _stall),
            Route("/headers", _headers),
        ]
    )
    with ThreadedServer(app) as server:
        yield server.url


async def finished_video_url(kie: KieStandIn, client: ApiClient, scenario: Scenario | None = None) -> str:
    """Create a Veo task on the simulator, poll it to success and return its video URL."""
    if scenario is not None:
        kie.sim.queue_scenario(scenario)
    headers = {"Authorization": f"Bearer {kie.api_key}"}
    created = await client.request("POST", f"{kie.url}/api/v1/veo/generate", headers=headers, json_body={"prompt": "x"})
    task_id = json.loads(created.body)["data"]["taskId"]
    info = await client.request("GET", f"{kie.url}/api/v1/veo/record-info", headers=headers, params={"taskId": task_id})
    url: str = json.loads(info.body)["data"]["response"]["resultUrls"][0]
    return url


async def read_all(downloader: HttpVideoDownloader, url: str) -> list[bytes]:
    async with downloader.open(url) as chunks:
        return [chunk async for chunk in chunks]


async def test_streams_the_whole_video_in_chunks(
    kie: KieStandIn, api_client: ApiClient, make_downloader: MakeDownloader
) -> None:
    url = await finished_video_url(kie, api_client)
    chunks = await read_all(make_downloader(10 * MB, chunk_size=4096), url)
    assert len(chunks) > 1
    assert max(len(chunk) for chunk in chunks) <= 4096
    assert b"".join(chunks) == sample_mp4_bytes()


async def test_refuses_early_when_content_length_is_over_the_limit(
    kie: KieStandIn, api_client: ApiClient, make_downloader: MakeDownloader
) -> None:
    url = await finished_video_url(kie, api_client, Scenario(video_bytes=2 * MB))
    downloader = make_downloader(1 * MB)
    entered = False
    with pytest.raises(JobError) as caught:
        async with downloader.open(url):
            entered = True
    assert not entered  # refused on the headers, before any chunk was handed out
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert "limit" in caught.value.raw


async def test_stops_mid_stream_past_the_limit_when_no_length_is_announced(
    kie: KieStandIn, api_client: ApiClient, make_downloader: MakeDownloader
) -> None:
    url = await finished_video_url(kie, api_client, Scenario(video_bytes=3 * MB, download_faults=["chunked"]))
    downloader = make_downloader(1 * MB, chunk_size=64 * 1024)
    received: list[bytes] = []

    async def consume() -> None:
        async with downloader.open(url) as chunks:
            async for chunk in chunks:
                received.append(chunk)

    with pytest.raises(JobError) as caught:
        await consume()
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert 0 < sum(len(chunk) for chunk in received) <= 1 * MB


async def test_exactly_the_limit_is_allowed(
    kie: KieStandIn, api_client: ApiClient, make_downloader: MakeDownloader
) -> None:
    url = await finished_video_url(kie, api_client, Scenario(video_bytes=MB, download_faults=["chunked"]))
    chunks = await read_all(make_downloader(MB), url)
    assert sum(len(chunk) for chunk in chunks) == MB


async def test_missing_file_is_a_download_failure(kie: KieStandIn, make_downloader: MakeDownloader) -> None:
    with pytest.raises(JobError) as caught:
        await read_all(make_downloader(MB), f"{kie.url}/files/veo_task_missing.mp4")
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert "404" in caught.value.raw


@pytest.mark.parametrize("fault", ["500", "truncate"])
async def test_server_error_or_cut_off_body_is_a_download_failure_and_a_retry_works(
    kie: KieStandIn, api_client: ApiClient, make_downloader: MakeDownloader, fault: str
) -> None:
    url = await finished_video_url(kie, api_client, Scenario(download_faults=[fault]))
    downloader = make_downloader(10 * MB)
    with pytest.raises(JobError) as caught:
        await read_all(downloader, url)
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert caught.value.retryable
    assert b"".join(await read_all(downloader, url)) == sample_mp4_bytes()


async def test_a_body_cut_short_of_its_content_length_is_logged_without_the_query(
    kie: KieStandIn, api_client: ApiClient, make_downloader: MakeDownloader
) -> None:
    url = await finished_video_url(kie, api_client, Scenario(video_bytes=MB, download_faults=["truncate"]))
    received: list[bytes] = []

    async def consume() -> None:
        async with make_downloader(10 * MB).open(f"{url}?X-Amz-Signature=secret-signature") as chunks:
            async for chunk in chunks:
                received.append(chunk)

    with capture_logs() as logs, pytest.raises(JobError) as caught:
        await consume()
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert "ClientPayloadError" in caught.value.raw
    assert 0 < sum(len(chunk) for chunk in received) < MB
    [warning] = [entry for entry in logs if entry["event"] == "download.stream_failed"]
    assert warning["url"] == url
    assert "secret" not in repr(logs)


async def test_connection_refused_is_a_download_failure(make_downloader: MakeDownloader) -> None:
    with capture_logs() as logs, pytest.raises(JobError) as caught:
        await read_all(make_downloader(MB), f"http://127.0.0.1:{free_port()}/v.mp4?sig=secret-signature")
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert [entry["event"] for entry in logs] == ["download.request_failed"]
    assert "secret" not in repr(logs) + caught.value.raw


async def test_non_http_url_is_refused_without_a_request(make_downloader: MakeDownloader) -> None:
    with pytest.raises(JobError) as caught:
        await read_all(make_downloader(MB), "file:///etc/passwd")
    assert (caught.value.code, caught.value.request_sent) == (ErrorCode.DOWNLOAD_FAILED, False)


async def test_unparseable_url_is_a_download_failure(make_downloader: MakeDownloader) -> None:
    with pytest.raises(JobError) as caught:
        await read_all(make_downloader(MB), "http://[::1/v.mp4")
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED


async def test_consumer_errors_pass_through_unchanged(
    kie: KieStandIn, api_client: ApiClient, make_downloader: MakeDownloader
) -> None:
    url = await finished_video_url(kie, api_client)

    async def upload_that_fails() -> None:
        async with make_downloader(10 * MB).open(url) as chunks:
            async for _ in chunks:
                raise JobError(ErrorCode.UPLOAD_FAILED, "S3 said no")

    with pytest.raises(JobError) as caught:
        await upload_that_fails()
    assert caught.value.code is ErrorCode.UPLOAD_FAILED


async def test_a_redirect_is_followed(
    kie: KieStandIn, api_client: ApiClient, local_server: str, make_downloader: MakeDownloader
) -> None:
    url = await finished_video_url(kie, api_client)
    chunks = await read_all(make_downloader(10 * MB), f"{local_server}/redirect?to={quote(url, safe='')}")
    assert b"".join(chunks) == sample_mp4_bytes()


async def test_a_redirect_loop_is_a_download_failure_without_the_query(
    local_server: str, make_downloader: MakeDownloader
) -> None:
    with pytest.raises(JobError) as caught:
        await read_all(make_downloader(MB, max_redirects=3), f"{local_server}/loop")
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert "TooManyRedirects" in caught.value.raw
    assert caught.value.retryable
    assert "secret" not in caught.value.raw


async def test_a_stalled_body_times_out(local_server: str, make_downloader: MakeDownloader) -> None:
    received: list[bytes] = []

    async def consume() -> None:
        async with make_downloader(MB, timeout_s=0.3).open(f"{local_server}/stall") as chunks:
            async for chunk in chunks:
                received.append(chunk)

    with pytest.raises(JobError) as caught:
        await consume()
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert b"".join(received) == b"x" * 1000


async def test_sends_the_user_agent_and_asks_for_the_bytes_as_stored(
    local_server: str, make_downloader: MakeDownloader
) -> None:
    [body] = await read_all(make_downloader(MB), f"{local_server}/headers")
    assert json.loads(body) == {"user-agent": USER_AGENT, "accept-encoding": "identity"}


async def test_the_connection_goes_back_when_the_consumer_stops_early_or_is_cancelled(
    kie: KieStandIn, api_client: ApiClient, make_downloader: MakeDownloader
) -> None:
    url = await finished_video_url(kie, api_client, Scenario(video_bytes=4 * MB))
    # One connection and a short wait for it: a response left open would starve the next download.
    downloader = make_downloader(10 * MB, max_connections=1, timeout_s=1.0, chunk_size=64 * 1024)
    async with downloader.open(url) as chunks:
        async for _ in chunks:
            break

    first_chunk = asyncio.Event()

    async def consume_slowly() -> None:
        async with downloader.open(url) as chunks:
            async for _ in chunks:
                first_chunk.set()
                await asyncio.sleep(10)

    task = asyncio.create_task(consume_slowly())
    await first_chunk.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sum(len(chunk) for chunk in await read_all(downloader, url)) == 4 * MB


async def test_aclose_closes_the_pool_and_is_idempotent(kie: KieStandIn, api_client: ApiClient) -> None:
    url = await finished_video_url(kie, api_client)
    async with HttpVideoDownloader(10 * MB, timeout_s=TIMEOUT_S, network=loopback()) as downloader:
        assert b"".join(await read_all(downloader, url)) == sample_mp4_bytes()
    assert downloader.closed
    await downloader.aclose()
    with pytest.raises(JobError) as caught:
        await read_all(downloader, url)
    assert (caught.value.code, caught.value.request_sent) == (ErrorCode.DOWNLOAD_FAILED, False)


def test_can_be_built_outside_an_event_loop() -> None:
    downloader = HttpVideoDownloader(MB, timeout_s=TIMEOUT_S)  # the session waits for the first download
    assert not downloader.closed


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        HttpVideoDownloader(max_bytes=0, timeout_s=TIMEOUT_S)
    with pytest.raises(ValueError, match="positive"):
        HttpVideoDownloader(MB, timeout_s=0)
    with pytest.raises(ValueError, match="positive"):
        HttpVideoDownloader(MB, timeout_s=TIMEOUT_S, max_connections=0)


def loopback() -> Network:
    """Direct (no proxy), loopback allowed: every server in this module is on 127.0.0.1."""
    return Network(Proxies(), AddressPolicy(allow_private=True))
