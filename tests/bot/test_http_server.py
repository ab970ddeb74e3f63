"""uvicorn as Reelay configures it, served for real on 127.0.0.1: header timeout, concurrency limit, body limit,
callback tokens checked before any lookup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.http import EmbeddedServer, create_http_app, server_config
from bot.http.bodies import MAX_BODY_BYTES, read_json
from bot.http.callbacks import callback_routes
from bot.http.header_timeout import RELIED_ON, TESTED_UVICORN

pytestmark = pytest.mark.integration


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"got": await read_json(request)})


async def slow(request: Request) -> JSONResponse:
    await asyncio.sleep(float(request.query_params.get("s", "0.8")))
    return JSONResponse({"ok": True})


@asynccontextmanager
async def serving(
    routes: list[BaseRoute], *, header_timeout_s: float = 10.0, max_connections: int = 1000
) -> AsyncIterator[int]:
    """A real uvicorn on a free 127.0.0.1 port, configured by ``server_config``; yields the port."""
    config = server_config(
        create_http_app(routes),
        host="127.0.0.1",
        port=0,
        max_connections=max_connections,
        header_timeout_s=header_timeout_s,
    )
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.01)
    try:
        port = server.bound_port
        assert port is not None
        yield port
    finally:
        server.should_exit = True
        await task


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Whether the server closed the connection within ``seconds`` (reading whatever it sent first)."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    return True


def test_the_uvicorn_whose_internals_the_header_timeout_uses_is_the_one_it_was_checked_against() -> None:
    # Fails loudly on a uvicorn upgrade: re-read HttpToolsProtocol, then move TESTED_UVICORN.
    assert uvicorn.__version__.startswith(TESTED_UVICORN), uvicorn.__version__
    assert all(callable(getattr(HttpToolsProtocol, name, None)) for name in RELIED_ON)


async def test_a_client_trickling_its_headers_is_disconnected_at_the_header_timeout() -> None:
    async with serving([Route("/slow", slow)], header_timeout_s=0.5) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for byte in b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 40:
            if writer.is_closing() or reader.at_eof():
                break
            writer.write(bytes([byte]))
            try:
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.05)  # a byte every 50 ms keeps any read timeout from firing
        assert await closed_within(reader, 2.0), "the trickling client was never disconnected"
        assert loop.time() - started < 2.0
        writer.close()


async def test_an_idle_connection_that_never_sends_a_request_is_closed() -> None:
    async with serving([Route("/slow", slow)], header_timeout_s=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_within(reader, 1.5)
        writer.close()


async def test_a_request_slower_than_the_header_timeout_is_served_once_its_headers_are_in() -> None:
    async with serving([Route("/slow", slow)], header_timeout_s=0.3) as port, httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{port}/slow?s=0.8")
        again = await client.get(f"http://127.0.0.1:{port}/slow?s=0.1")  # the kept-alive connection still works

    assert (answer.status_code, again.status_code) == (200, 200)


async def test_connections_beyond_max_connections_are_answered_503() -> None:
    async with serving([Route("/slow", slow)], max_connections=3) as port:
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        async with httpx.AsyncClient() as client:
            refused = await client.get(f"http://127.0.0.1:{port}/slow?s=0")
        for _, writer in idle:
            writer.close()
        await asyncio.sleep(0.1)
        async with httpx.AsyncClient() as client:
            served = await client.get(f"http://127.0.0.1:{port}/slow?s=0")

    assert refused.status_code == 503
    assert served.status_code == 200


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent() -> None:
    async with serving([Route("/echo", echo, methods=["POST"])]) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
        )
        await writer.drain()
        async with asyncio.timeout(2):  # answered while the 100 MB are still unsent
            status_line = await reader.readline()
        assert b" 413 " in status_line
        assert await closed_within(reader, 2.0), "the connection is closed instead of reading the body"
        writer.close()


async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    async with serving([Route("/echo", echo, methods=["POST"])]) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"[" * 65536
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):  # just past 1 MiB, and no final chunk
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
        async with asyncio.timeout(2):
            status_line = await reader.readline()
        writer.close()

    assert b" 413 " in status_line


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_within_the_limit_is_read_whole(chunked: bool) -> None:
    payload = b'{"text": "' + b"a" * (MAX_BODY_BYTES - 20) + b'"}'

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    async with serving([Route("/echo", echo, methods=["POST"])]) as port, httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{port}/echo", content=pieces() if chunked else payload)

    assert answer.status_code == 200
    assert len(answer.json()["got"]["text"]) == MAX_BODY_BYTES - 20


class RecordingTokens:
    """A callback-token store that only records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def job_for(self, token: str) -> str | None:
        self.asked.append(token)
        return None


class NoEvents:
    async def publish(self, kind: str, job_id: str = "") -> None:
        raise AssertionError("nothing may be published for an unknown token")


@pytest.mark.parametrize(
    "path",
    ["/callbacks/kie/" + "a" * 201, "/callbacks/kie/tok!en", "/callbacks/kie/t%C3%B6ken", "/callbacks/kie/a%20b"],
)
async def test_a_callback_token_we_could_not_have_made_is_404_without_a_lookup(path: str) -> None:
    tokens = RecordingTokens()
    routes: Callable[..., list[Route]] = callback_routes
    async with serving(routes(tokens, NoEvents())) as port, httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{port}{path}", json={})
        good_shape = await client.post(f"http://127.0.0.1:{port}/callbacks/kie/Abc_123-xyz", json={})

    assert answer.status_code == 404
    assert good_shape.status_code == 404
    assert tokens.asked == ["Abc_123-xyz"], "only the well-formed token reached the store"


@pytest.mark.parametrize(("depth", "status"), [(32, 200), (33, 400)])
async def test_json_may_nest_32_levels_and_no_deeper(depth: int, status: int) -> None:
    body = b"[" * depth + b"]" * depth
    async with serving([Route("/echo", echo, methods=["POST"])]) as port, httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{port}/echo", content=body)

    assert answer.status_code == status
