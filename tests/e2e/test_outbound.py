"""Reelay's outbound calls end to end: a video URL that leads to a private address, a download that is not a video,
and whole runs through an HTTP and a SOCKS5 egress proxy that record every call.

A server on 127.0.0.2 stands in for a CDN on the internet: Reelay's address policy there is production's, plus
that one address (as ``AddressPolicy.allowed`` lets an operator's private CDN through).
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_network
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from structlog.testing import capture_logs

import bot.app
from bot import texts
from bot.i18n import ENGLISH
from bot.settings import Settings
from outbound import AddressPolicy, Network, Proxies
from poller.errors import ErrorCode
from poller.jobs import JobStatus
from sandbox.kie_simulator import Scenario
from sandbox.serve import ThreadedServer
from tests.e2e.conftest import ALICE, SettingsFactory, bot_messages, running, videos_in
from tests.e2e.test_faults import deliver_one, fail_one, failure_notices, stored_objects
from tests.fixtures.kie import KieStandIn
from tests.fixtures.proxies import HttpProxy, Socks5Proxy
from tests.fixtures.s3_server import S3Server
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e

STRICT = {"allow_private_addresses": False}


@pytest.fixture
def cdn(kie: KieStandIn) -> Iterator[list[str]]:
    """A "CDN" on 127.0.0.2 whose every video link redirects to the simulator's file on 127.0.0.1; the simulator
    hands out its links. Yields the paths the CDN was asked for."""
    hits: list[str] = []

    async def redirect(request: Request) -> Response:
        hits.append(request.url.path)
        return RedirectResponse(f"{kie.url}{request.url.path}", status_code=302)

    with ThreadedServer(Starlette(routes=[Route("/files/{name}", redirect)]), host="127.0.0.2") as server:
        kie.sim.public_url = server.url
        yield hits


@pytest.fixture
def internet_on_127_0_0_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reelay's network as in production, with 127.0.0.2 counted as the internet."""

    def network(settings: Settings) -> Network:
        policy = AddressPolicy(
            allow_private=settings.network.allow_private_addresses, allowed=(ip_network("127.0.0.2/32"),)
        )
        return Network(Proxies(settings.network.proxy_url), policy)

    monkeypatch.setattr(bot.app, "build_network", network)


@pytest.mark.usefixtures("internet_on_127_0_0_2")
async def test_a_video_url_that_redirects_to_loopback_fails_the_job_and_the_user_gets_the_usual_message(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, cdn: list[str]
) -> None:
    async with running(make_settings(network=STRICT)) as reelay:
        with capture_logs() as logs:
            job = await fail_one(reelay, telegram, "a lighthouse in a storm", ErrorCode.DOWNLOAD_FAILED)

    assert cdn == [f"/files/{job.provider_task_id}.mp4"]  # asked once: a refused address is not retried
    assert sum(kie.sim.downloads.values()) == 0  # the redirect to 127.0.0.1 was never followed
    assert job.delivery_attempts == 1
    assert job.error_raw is not None
    assert job.error_raw.startswith(f"address refused: {kie.url}/files/{job.provider_task_id}.mp4: ")
    assert "loopback" in job.error_raw
    assert [entry["url"] for entry in logs if entry["event"] == "download.refused"] == [
        f"{kie.url}/files/{job.provider_task_id}.mp4"
    ]
    # The usual message, once; no URL, no address, no reason reached the chat.
    assert len(failure_notices(telegram, ErrorCode.DOWNLOAD_FAILED)) == 1
    said = " ".join(message.text or "" for message in bot_messages(telegram, ALICE))
    assert "127.0.0" not in said
    assert "http" not in said
    assert videos_in(telegram, ALICE) == []


async def test_a_video_url_on_a_private_address_fails_the_job_unless_private_addresses_are_allowed(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    async with running(make_settings(network=STRICT)) as reelay:
        job = await fail_one(reelay, telegram, "a quiet harbour", ErrorCode.DOWNLOAD_FAILED)
    assert job.delivery_attempts == 1
    assert sum(kie.sim.downloads.values()) == 0
    assert telegram.emulator.calls("sendVideo") == []


async def test_a_download_that_is_not_a_video_is_deleted_and_never_sent(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, s3_server: S3Server, s3_bucket: str
) -> None:
    kie.sim.queue_scenario(Scenario(download_faults=["not_video"]))  # served as video/mp4; the bytes are a pattern
    async with running(make_settings()) as reelay:
        job = await fail_one(reelay, telegram, "a mislabelled file", ErrorCode.DOWNLOAD_FAILED)
    assert job.delivery_attempts == 1  # permanent: the same bytes would come back
    assert sum(kie.sim.downloads.values()) == 1
    assert job.error_raw == "no video stream in the 65536-byte download"
    assert telegram.emulator.calls("sendVideo") == []
    assert stored_objects(s3_server, s3_bucket) == []  # uploaded while it streamed, deleted after the probe
    assert len(failure_notices(telegram, ErrorCode.DOWNLOAD_FAILED)) == 1


def _called(proxy: HttpProxy, base_url: str, method: str = "") -> list[str]:
    """Paths of the calls the proxy carried to ``base_url``'s host (of one method)."""
    origin = base_url.rstrip("/")
    return [
        urlsplit(call.target).path
        for call in proxy.seen
        if call.target.startswith(origin) and (not method or call.method == method)
    ]


async def test_every_kind_of_outbound_call_goes_through_an_http_proxy(
    make_settings: SettingsFactory,
    telegram: TelegramStandIn,
    kie: KieStandIn,
    s3_server: S3Server,
    http_proxy: HttpProxy,
) -> None:
    settings = make_settings(network={"proxy_url": http_proxy.url})
    with capture_logs() as logs:
        async with running(settings) as reelay:
            job = await deliver_one(reelay, telegram, "a paper boat on a canal [polls=1]")
    assert job.status is JobStatus.SUCCEEDED
    telegram_paths = _called(http_proxy, telegram.url)
    assert any(path.endswith("/getUpdates") for path in telegram_paths)
    assert any(path.endswith("/sendMessage") for path in telegram_paths)
    assert any(path.endswith("/sendVideo") for path in telegram_paths)
    assert "/api/v1/veo/generate" in _called(http_proxy, kie.url, "POST")  # the submit
    assert "/api/v1/veo/record-info" in _called(http_proxy, kie.url, "GET")  # the status polls
    assert f"/files/{job.provider_task_id}.mp4" in _called(http_proxy, kie.url, "GET")  # the download
    assert any(method == "PUT" for method in _methods(http_proxy, s3_server.endpoint_url))  # S3
    assert http_proxy.refused == 0  # every client sent the proxy's credentials
    assert "proxy-secret" not in repr(logs)
    [line] = [entry for entry in logs if entry["event"] == "network.proxy"]
    assert line["https"] == f"http://proxy-user:***@127.0.0.1:{http_proxy.port}"


def _methods(proxy: HttpProxy, base_url: str) -> list[str]:
    return [call.method for call in proxy.seen if call.target.startswith(base_url.rstrip("/"))]


async def test_every_kind_of_outbound_call_but_s3_goes_through_a_socks5_proxy(
    make_settings: SettingsFactory,
    telegram: TelegramStandIn,
    kie: KieStandIn,
    s3_server: S3Server,
    socks5_proxy: Socks5Proxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # botocore cannot speak SOCKS: S3 must go direct, by NO_PROXY (without it, start-up stops: test_wiring).
    s3_host = urlsplit(s3_server.endpoint_url).netloc
    monkeypatch.setenv("NO_PROXY", s3_host)
    telegram_host = urlsplit(telegram.url).netloc
    kie_host = urlsplit(kie.url).netloc
    async with running(make_settings(network={"proxy_url": socks5_proxy.url})) as reelay:
        job = await deliver_one(reelay, telegram, "a kite over the dunes [polls=1]")
    assert job.status is JobStatus.SUCCEEDED
    targets = socks5_proxy.targets()
    assert telegram_host in targets
    assert kie_host in targets  # submits, polls and the download (all on the simulator's port)
    assert s3_host not in targets
    assert socks5_proxy.refused == 0
    assert len(videos_in(telegram, ALICE)) == 1
    assert texts.error_message(ENGLISH, ErrorCode.DOWNLOAD_FAILED) not in [
        m.text for m in bot_messages(telegram, ALICE)
    ]
