"""What the downloader refuses: private addresses (literal, by name, after a redirect), long redirect chains, answers
that are not videos, oversized headers, and bodies that trickle in too slowly. Real servers on loopback.

A server on 127.0.0.2 stands in for one on the internet: its downloaders' policy lets 127.0.0.2 through (as an
operator's private CDN range would be), and everything else on loopback stays refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from ipaddress import ip_network
from urllib.parse import quote

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from structlog.testing import capture_logs

from outbound import AddressPolicy, Network, Proxies
from poller.errors import ErrorCode, JobError
from providers.download import HttpVideoDownloader
from sandbox.media import sample_mp4_bytes
from sandbox.serve import ThreadedServer

pytestmark = pytest.mark.integration

MB = 1 << 20
PUBLIC = AddressPolicy(allowed=(ip_network("127.0.0.2/32"),))  # production's check, plus the stand-in "internet"


@dataclass
class Origin:
    """A local video server and the paths it was asked for."""

    url: str
    hits: list[str] = field(default_factory=list)


def _app(hits: list[str]) -> Starlette:
    async def video(request: Request) -> Response:
        hits.append(request.url.path)
        media_type = request.query_params.get("type", "video/mp4")
        response = Response(sample_mp4_bytes(), media_type=media_type or None)
        if not media_type:
            del response.headers["content-type"]
        return response

    async def to(request: Request) -> Response:
        hits.append(request.url.path)
        return RedirectResponse(request.query_params["url"], status_code=302)

    async def hop(request: Request) -> Response:
        left = int(request.path_params["left"])
        return RedirectResponse(f"/hop/{left - 1}" if left > 1 else "/video", status_code=302)

    async def big_headers(request: Request) -> Response:
        headers = {f"X-Padding-{i}": "v" * 1000 for i in range(70)}
        return Response(sample_mp4_bytes(), media_type="video/mp4", headers=headers)

    async def trickle(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(100):  # 1,000 bytes/s: never silent long enough for a read timeout
                yield b"." * 100
                await asyncio.sleep(0.1)

        return StreamingResponse(body(), media_type="video/mp4", headers={"Content-Length": "10000"})

    return Starlette(
        routes=[
            Route("/video", video),
            Route("/to", to),
            Route("/hop/{left}", hop),
            Route("/big-headers", big_headers),
            Route("/trickle", trickle),
        ]
    )


def _serve(host: str) -> Iterator[Origin]:
    hits: list[str] = []
    with ThreadedServer(_app(hits), host=host) as server:
        yield Origin(server.url, hits)


@pytest.fixture(scope="module")
def private_module() -> Iterator[Origin]:
    yield from _serve("127.0.0.1")


@pytest.fixture
def private(private_module: Origin) -> Origin:
    """A server on 127.0.0.1: an address no URL from outside may reach."""
    private_module.hits.clear()
    return private_module


@pytest.fixture(scope="module")
def public_module() -> Iterator[Origin]:
    yield from _serve("127.0.0.2")


@pytest.fixture
def public(public_module: Origin) -> Origin:
    """A server on 127.0.0.2, which :data:`PUBLIC` lets through: a CDN on the internet."""
    public_module.hits.clear()
    return public_module


@pytest.fixture
async def downloader() -> AsyncIterator[HttpVideoDownloader]:
    """Production's checks (with 127.0.0.2 as the internet), direct."""
    async with HttpVideoDownloader(10 * MB, timeout_s=2.0, network=Network(Proxies(), PUBLIC)) as built:
        yield built


@pytest.fixture
async def lenient() -> AsyncIterator[HttpVideoDownloader]:
    """Loopback allowed: for the checks that are not about addresses."""
    network = Network(Proxies(), AddressPolicy(allow_private=True))
    async with HttpVideoDownloader(10 * MB, timeout_s=2.0, network=network) as built:
        yield built


async def read_all(downloader: HttpVideoDownloader, url: str) -> bytes:
    async with downloader.open(url) as chunks:
        return b"".join([chunk async for chunk in chunks])


def assert_refused(error: JobError) -> None:
    assert error.code is ErrorCode.DOWNLOAD_FAILED
    assert error.permanent
    assert not error.retryable
    assert error.request_sent is False
    assert error.raw.startswith("address refused: ")


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("169.254.169.254", "link-local"),
        ("10.0.0.5", "private"),
        ("127.0.0.1:{port}", "loopback"),
        ("[::1]:{port}", "loopback"),
        ("[::ffff:127.0.0.1]:{port}", "IPv4-mapped"),
        ("[::ffff:169.254.169.254]", "IPv4-mapped"),
        ("0.0.0.0:{port}", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "not globally routable"),
    ],
)
async def test_a_literal_address_that_is_not_public_is_refused_before_any_request(
    downloader: HttpVideoDownloader, private: Origin, host: str, reason: str
) -> None:
    port = private.url.rsplit(":", 1)[1]
    url = f"http://{host.format(port=port)}/video?X-Amz-Signature=secret"
    with capture_logs() as logs, pytest.raises(JobError) as caught:
        await read_all(downloader, url)
    assert_refused(caught.value)
    assert reason in caught.value.raw
    assert private.hits == []
    [refused] = [entry for entry in logs if entry["event"] == "download.refused"]
    assert refused["url"] == url.partition("?")[0]
    assert "secret" not in repr(logs) + caught.value.raw


async def test_a_name_that_resolves_to_loopback_is_refused_as_it_connects(
    downloader: HttpVideoDownloader, private: Origin
) -> None:
    url = private.url.replace("127.0.0.1", "localhost") + "/video"
    with pytest.raises(JobError) as caught:
        await read_all(downloader, url)
    assert_refused(caught.value)
    assert "localhost is" in caught.value.raw
    assert "loopback" in caught.value.raw
    assert private.hits == []


async def test_a_public_url_that_redirects_to_a_private_address_is_refused_at_that_hop(
    downloader: HttpVideoDownloader, public: Origin, private: Origin
) -> None:
    target = f"{private.url}/video"
    with capture_logs() as logs, pytest.raises(JobError) as caught:
        await read_all(downloader, f"{public.url}/to?url={quote(target, safe='')}")
    assert_refused(caught.value)
    assert public.hits == ["/to"]
    assert private.hits == []  # the redirect was never followed
    [refused] = [entry for entry in logs if entry["event"] == "download.refused"]
    assert refused["url"] == target


async def test_a_public_url_that_redirects_to_another_public_one_is_followed(
    downloader: HttpVideoDownloader, public: Origin
) -> None:
    target = f"{public.url}/video"
    assert await read_all(downloader, f"{public.url}/to?url={quote(target, safe='')}") == sample_mp4_bytes()


async def test_five_redirects_are_followed_and_a_sixth_is_refused(
    lenient: HttpVideoDownloader, private: Origin
) -> None:
    assert await read_all(lenient, f"{private.url}/hop/5") == sample_mp4_bytes()
    with pytest.raises(JobError) as caught:
        await read_all(lenient, f"{private.url}/hop/6")
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert "more than 5 redirects" in caught.value.raw


@pytest.mark.parametrize(
    "media_type", ["video/mp4", "video/webm", "application/octet-stream", "binary/octet-stream", ""]
)
async def test_videos_and_unlabelled_bytes_are_accepted(
    lenient: HttpVideoDownloader, private: Origin, media_type: str
) -> None:
    assert await read_all(lenient, f"{private.url}/video?type={quote(media_type)}") == sample_mp4_bytes()


@pytest.mark.parametrize("media_type", ["text/html; charset=utf-8", "application/json", "image/png"])
async def test_an_answer_that_is_not_labelled_a_video_is_refused(
    lenient: HttpVideoDownloader, private: Origin, media_type: str
) -> None:
    with pytest.raises(JobError) as caught:
        await read_all(lenient, f"{private.url}/video?type={quote(media_type)}")
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert caught.value.retryable  # a CDN's error page may be passing
    assert "not a video" in caught.value.raw


async def test_headers_over_64_kib_are_refused(lenient: HttpVideoDownloader, private: Origin) -> None:
    with pytest.raises(JobError) as caught:
        await read_all(lenient, f"{private.url}/big-headers")
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert "HeadersTooLarge" in caught.value.raw


async def test_a_download_slower_than_the_minimum_rate_is_stopped(private: Origin) -> None:
    network = Network(Proxies(), AddressPolicy(allow_private=True))
    received: list[bytes] = []
    loop = asyncio.get_running_loop()
    async with HttpVideoDownloader(
        10 * MB, timeout_s=2.0, network=network, min_bytes_per_s=2000, rate_window_s=0.3
    ) as slow_to_accept:

        async def consume() -> None:
            async with slow_to_accept.open(f"{private.url}/trickle") as chunks:
                async for chunk in chunks:
                    received.append(chunk)

        started = loop.time()
        with capture_logs() as logs, pytest.raises(JobError) as caught:
            await consume()
        assert loop.time() - started < 1.5  # the trickle would take 10 s
        assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
        assert caught.value.retryable
        assert "slower than 2000 bytes/s over 0.3 s" in caught.value.raw
        assert 0 < sum(len(chunk) for chunk in received) < 10_000
        assert [entry["event"] for entry in logs] == ["download.too_slow"]
        # A download at full speed meets the same minimum.
        assert await read_all(slow_to_accept, f"{private.url}/video") == sample_mp4_bytes()
