"""Each kind of client goes through the egress proxy it is given, against recording proxies and real stand-ins:
provider submits and status polls (ApiClient), downloads (HttpVideoDownloader), Telegram (AiohttpRequest), S3."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from telegram.ext import ExtBot

from bot.aiohttp_request import AiohttpRequest
from outbound import AddressPolicy, Network, Proxies, Proxy
from poller.errors import ErrorCode, JobError
from providers.api_client import ApiClient, ApiTransportError
from providers.download import HttpVideoDownloader
from sandbox.media import sample_mp4_bytes
from storage.blobs_s3 import S3BlobStore
from tests.fixtures.kie import KieStandIn
from tests.fixtures.proxies import HttpProxy, Socks5Proxy
from tests.fixtures.s3_server import S3Server
from tests.fixtures.scripted_http import Peer, Serve
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.integration

MB = 1 << 20


async def finished_video_url(kie: KieStandIn) -> str:
    """A finished task's video URL, straight from the simulator."""
    async with ApiClient(timeout_s=5, max_connections=2) as client:
        headers = {"Authorization": f"Bearer {kie.api_key}"}
        created = await client.request(
            "POST", f"{kie.url}/api/v1/veo/generate", headers=headers, json_body={"prompt": "x"}
        )
        task_id = json.loads(created.body)["data"]["taskId"]
        info = await client.request(
            "GET", f"{kie.url}/api/v1/veo/record-info", headers=headers, params={"taskId": task_id}
        )
    url: str = json.loads(info.body)["data"]["response"]["resultUrls"][0]
    return url


@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_provider_submits_and_status_polls_go_through_the_proxy(
    kind: str, http_proxy: HttpProxy, socks5_proxy: Socks5Proxy, kie: KieStandIn
) -> None:
    proxy = http_proxy if kind == "http" else socks5_proxy
    headers = {"Authorization": f"Bearer {kie.api_key}"}
    async with ApiClient(timeout_s=5, max_connections=4, proxy=Proxy.parse(proxy.url)) as client:
        created = await client.request(
            "POST", f"{kie.url}/api/v1/veo/generate", headers=headers, json_body={"prompt": "x"}
        )
        task_id = json.loads(created.body)["data"]["taskId"]
        polled = await client.request(
            "GET", f"{kie.url}/api/v1/veo/record-info", headers=headers, params={"taskId": task_id}
        )
    assert polled.ok
    if kind == "http":
        assert http_proxy.seen[0].method == "POST"
        assert http_proxy.targets("GET") == [f"{kie.url}/api/v1/veo/record-info?taskId={task_id}"]
    else:
        assert socks5_proxy.targets() == [urlsplit(kie.url).netloc] * 2  # one connection per call


async def test_a_proxied_status_poll_that_trickles_ends_at_the_deadline(http_proxy: HttpProxy, serve: Serve) -> None:
    async def trickle(head: bytes, peer: Peer) -> None:
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):
            await peer.send(b".")
            await asyncio.sleep(0.05)

    server = await serve(trickle)
    async with ApiClient(timeout_s=0.4, max_connections=2, proxy=Proxy.parse(http_proxy.url)) as client:
        with pytest.raises(ApiTransportError, match=r"no complete answer within 0\.4 s") as caught:
            await asyncio.wait_for(client.request("GET", f"{server.url}/record-info", headers={}), 3)
    assert caught.value.sent is True
    assert http_proxy.targets("GET") == [f"{server.url}/record-info"]


@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_downloads_go_through_the_proxy(
    kind: str, http_proxy: HttpProxy, socks5_proxy: Socks5Proxy, kie: KieStandIn
) -> None:
    proxy = http_proxy if kind == "http" else socks5_proxy
    url = await finished_video_url(kie)
    network = Network(Proxies(proxy.url), AddressPolicy(allow_private=True))
    async with HttpVideoDownloader(10 * MB, timeout_s=5, network=network) as downloader, downloader.open(url) as chunks:
        assert b"".join([chunk async for chunk in chunks]) == sample_mp4_bytes()
    expected = url if kind == "http" else urlsplit(url).netloc
    assert proxy.targets() == [expected]


async def test_through_a_proxy_a_download_target_is_resolved_and_checked_before_sending(
    http_proxy: HttpProxy, kie: KieStandIn
) -> None:
    url = (await finished_video_url(kie)).replace("127.0.0.1", "localhost")
    network = Network(Proxies(http_proxy.url), AddressPolicy())  # production's check; the proxy is trusted
    async with HttpVideoDownloader(10 * MB, timeout_s=5, network=network) as downloader:
        with pytest.raises(JobError) as caught:
            async with downloader.open(url):
                pass
    assert caught.value.code is ErrorCode.DOWNLOAD_FAILED
    assert caught.value.permanent
    assert "localhost is" in caught.value.raw
    assert http_proxy.seen == []  # refused before anything reached the proxy


async def test_a_host_in_no_proxy_is_downloaded_direct(
    http_proxy: HttpProxy, kie: KieStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await finished_video_url(kie)
    monkeypatch.setenv("NO_PROXY", urlsplit(url).netloc)
    network = Network(Proxies(http_proxy.url), AddressPolicy(allow_private=True))
    async with HttpVideoDownloader(10 * MB, timeout_s=5, network=network) as downloader, downloader.open(url) as chunks:
        assert b"".join([chunk async for chunk in chunks]) == sample_mp4_bytes()
    assert http_proxy.seen == []


@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_telegram_calls_go_through_the_proxy(
    kind: str, http_proxy: HttpProxy, socks5_proxy: Socks5Proxy, telegram: TelegramStandIn
) -> None:
    proxy = http_proxy if kind == "http" else socks5_proxy
    request = AiohttpRequest(2, proxy=Proxy.parse(proxy.url))
    bot: ExtBot[Any] = ExtBot(telegram.token, base_url=telegram.base_url, request=request)
    async with bot:
        me = await bot.get_me()
    assert me.is_bot
    if kind == "http":
        assert any(target.endswith("/getMe") for target in http_proxy.targets("POST"))
    else:
        assert urlsplit(telegram.url).netloc in socks5_proxy.targets()


async def test_s3_calls_go_through_an_http_proxy(http_proxy: HttpProxy, s3_server: S3Server, s3_bucket: str) -> None:
    store = S3BlobStore(
        bucket=s3_bucket,
        prefix="videos",
        region=s3_server.region,
        endpoint_url=s3_server.endpoint_url,
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
        proxies=Proxies(http_proxy.url).botocore_proxies(s3_server.endpoint_url),
    )

    async def one_chunk() -> Any:
        yield b"not really a video"

    async with store:
        await store.put_stream("x.mp4", one_chunk(), "video/mp4")
    assert f"{s3_server.endpoint_url}/{s3_bucket}/videos/x.mp4" in http_proxy.targets("PUT")
    assert http_proxy.refused == 0
