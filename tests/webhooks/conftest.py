"""A webhook receiver on 127.0.0.1 whose answers a test scripts, recording every request it gets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each request with the next scripted status (then ``default``); ``hang_s`` delays every answer."""

    statuses: list[int] = field(default_factory=list)
    default: int = 204
    hang_s: float = 0.0
    answer_body: bytes = b""
    endless: bool = False  # answer 200 with a body that never ends
    received: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: int = 0
    url: str = ""
    base: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append(Received(request.path, dict(request.headers), body))
        msg_id = request.headers.get("webhook-id", "")
        self.in_flight[msg_id] = self.in_flight.get(msg_id, 0) + 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight[msg_id])
        try:
            waited = 0.0
            while waited < self.hang_s:  # re-read each turn: a test ends a hang by setting hang_s to 0
                await asyncio.sleep(0.01)
                waited += 0.01
            if self.endless:
                return await self._endless(request)
            status = self.statuses.pop(0) if self.statuses else self.default
            return web.Response(status=status, body=self.answer_body)
        finally:
            self.in_flight[msg_id] -= 1

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        await response.prepare(request)
        try:
            while True:
                await response.write(b"x" * 65536)
                await asyncio.sleep(0)
        except (ConnectionError, RuntimeError):
            return response  # the client stopped reading and closed

    def ids(self) -> list[str]:
        return [request.headers["webhook-id"] for request in self.received]

    def at(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A started receiver of POSTs to any path (``receiver.url`` ends in ``/hook``), stopped after the test."""
    found = Receiver()
    app = web.Application()
    app.router.add_post("/{path:.*}", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    found.base = f"http://127.0.0.1:{port}"
    found.url = found.base + "/hook"
    try:
        yield found
    finally:
        await runner.cleanup()
