"""The provider API client: real requests to a local server, and aiohttp failures mapped to sent / not sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from providers.api_client import MAX_BODY_BYTES, ApiClient, ApiTransportError, ApiUrlError
from providers.http import USER_AGENT
from sandbox.serve import ThreadedServer, free_port
from tests.fixtures.scripted_http import Peer, Serve, answer


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "query": dict(request.query_params),
            "user_agent": request.headers.get("user-agent"),
            "authorization": request.headers.get("authorization"),
            "body": body.decode(),
        },
        headers={"Retry-After": "7"},
        status_code=201,
    )


async def slow(request: Request) -> Response:
    await asyncio.sleep(2)
    return Response("late")


async def trickle(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):  # 2 s in all, never silent long enough for a read timeout
            await asyncio.sleep(0.2)
            yield b"."

    return StreamingResponse(chunks())


async def huge(request: Request) -> Response:
    return Response(b"x" * (MAX_BODY_BYTES + 1))


async def hold(request: Request) -> Response:
    await asyncio.sleep(0.25)  # well inside the callers' deadline
    return Response("held")


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    routes = [
        Route("/echo", echo, methods=["GET", "POST"]),
        Route("/slow", slow),
        Route("/trickle", trickle, methods=["GET", "POST"]),
        Route("/huge", huge),
        Route("/hold", hold, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    with ThreadedServer(app) as server:
        yield server.url


async def test_request_sends_json_params_and_headers_and_reads_the_whole_answer(server_url: str) -> None:
    async with ApiClient(timeout_s=5, max_connections=2) as client:
        response = await client.request(
            "POST", f"{server_url}/echo", headers={"Authorization": "Bearer k"}, json_body={"a": 1}, params={"q": "v"}
        )
    assert response.status == 201
    assert response.ok
    assert response.retry_after == "7"
    assert b'"method":"POST"' in response.body
    assert b'"query":{"q":"v"}' in response.body
    assert f'"user_agent":"{USER_AGENT}"'.encode() in response.body
    assert b'"authorization":"Bearer k"' in response.body
    assert b'"body":"{\\"a\\": 1}"' in response.body


async def test_connection_refused_was_never_sent() -> None:
    async with ApiClient(timeout_s=2, max_connections=1) as client:
        with pytest.raises(ApiTransportError) as caught:
            await client.request("POST", f"http://127.0.0.1:{free_port()}/x", headers={})
    assert caught.value.sent is False


async def test_a_read_timeout_may_have_been_sent(server_url: str) -> None:
    async with ApiClient(timeout_s=0.3, max_connections=1) as client:
        with pytest.raises(ApiTransportError) as caught:
            await client.request("GET", f"{server_url}/slow", headers={})
    assert caught.value.sent is True


async def test_waiting_too_long_for_a_pooled_connection_was_never_sent(server_url: str) -> None:
    async with ApiClient(timeout_s=0.4, max_connections=1) as client:
        ahead = []
        for _ in range(2):  # two calls ahead hold the only connection until ~0.5 s
            ahead.append(asyncio.create_task(client.request("POST", f"{server_url}/hold", headers={})))
            await asyncio.sleep(0.05)
        with pytest.raises(ApiTransportError) as caught:
            await client.request("POST", f"{server_url}/echo", headers={})
        assert caught.value.sent is False
        assert [response.body for response in await asyncio.gather(*ahead)] == [b"held", b"held"]


async def test_a_trickling_answer_ends_at_the_deadline(server_url: str) -> None:
    loop = asyncio.get_running_loop()
    async with ApiClient(timeout_s=0.5, max_connections=1) as client:
        started = loop.time()
        with pytest.raises(ApiTransportError, match=r"no complete answer within 0\.5 s") as caught:
            await client.request("POST", f"{server_url}/trickle", headers={})  # 2 s, a byte every 0.2 s
        assert loop.time() - started < 1.5
    assert caught.value.sent is True


async def test_an_oversized_answer_is_refused_not_buffered(server_url: str) -> None:
    async with ApiClient(timeout_s=5, max_connections=1) as client:
        with pytest.raises(ApiTransportError, match="too large"):
            await client.request("GET", f"{server_url}/huge", headers={})


@pytest.mark.parametrize("url", ["http://[::1/x", "ftp://127.0.0.1:9/x"])
async def test_an_unusable_url_is_a_configuration_error(url: str) -> None:
    async with ApiClient(timeout_s=1, max_connections=1) as client:
        with pytest.raises(ApiUrlError):
            await client.request("GET", url, headers={})


async def test_a_closed_client_sends_nothing(server_url: str) -> None:
    client = ApiClient(timeout_s=1, max_connections=1)
    await client.request("GET", f"{server_url}/echo", headers={})
    await client.aclose()
    await client.aclose()  # idempotent
    assert client.closed
    with pytest.raises(ApiTransportError) as caught:
        await client.request("GET", f"{server_url}/echo", headers={})
    assert caught.value.sent is False


@pytest.mark.parametrize(("timeout_s", "max_connections"), [(0, 10), (10, 0)])
def test_nonsense_limits_are_refused(timeout_s: float, max_connections: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        ApiClient(timeout_s, max_connections)


async def test_headers_over_64_kib_are_refused(serve: Serve) -> None:
    async def big_head(head: bytes, peer: Peer) -> None:
        await peer.send(answer(headers="".join(f"X-{i}: {'v' * 1000}\r\n" for i in range(70))))

    server = await serve(big_head)
    async with ApiClient(timeout_s=2, max_connections=1) as client:
        with pytest.raises(ApiTransportError, match="over the 65536-byte limit") as caught:
            await client.request("POST", f"{server.url}/x", headers={}, json_body={})
    assert caught.value.sent is True


async def test_a_stray_answer_after_a_complete_one_is_never_read_as_the_next(serve: Serve) -> None:
    async def with_late_stray(head: bytes, peer: Peer) -> None:
        await peer.send(answer())
        await asyncio.sleep(0.02)
        await peer.send(answer(b"stray"))  # on the connection, now idle, before any next request

    server = await serve(with_late_stray)
    async with ApiClient(timeout_s=2, max_connections=1) as client:
        for _ in range(3):
            response = await client.request("POST", f"{server.url}/x", headers={}, json_body={})
            assert response.body == b'{"ok":true}'
            await asyncio.sleep(0.1)
    assert len(server.peers) == 3  # no connection was reused
