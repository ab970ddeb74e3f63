"""Helpers for the console's end-to-end tests: a signed-in HTTP client on a running Reelay, forms, live events."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bot.app import Reelay, Role
from bot.settings import Settings
from poller.jobs import Job, JobStatus
from poller.ports import Session
from sandbox.serve import free_port
from tests.e2e.conftest import SettingsFactory, running

TOKEN = "console-token-for-tests-0123456789abcdef"
_FORM_TOKEN = re.compile(r'name="csrf" value="([^"]*)"')
_FLASH = re.compile(r'data-testid="flash">(.*?)</p>', re.DOTALL)


async def sign_in(client: httpx.AsyncClient, token: str = TOKEN) -> httpx.Response:
    """Post the sign-in form."""
    return await client.post("/console/sign-in", data={"token": token})


@dataclass
class Console:
    """A running Reelay and a client signed in to its console."""

    reelay: Reelay
    client: httpx.AsyncClient

    async def form_token(self, job_id: str) -> str:
        """The form token on the job's page (the session's)."""
        page = await self.client.get(f"/console/jobs/{job_id}")
        match = _FORM_TOKEN.search(page.text)
        assert match is not None, page.text
        return match.group(1)

    async def act(self, job_id: str, action: str, **form: str) -> str:
        """Confirm ``action`` on the job's page; the message the page then shows."""
        data = {"csrf": await self.form_token(job_id), "confirm": "yes", **form}
        answer = await self.client.post(f"/console/jobs/{job_id}/{action}", data=data)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"/console/jobs/{job_id}"
        return flash_on(await self.client.get(answer.headers["location"]))


def console_settings(make_settings: SettingsFactory, **overrides: dict[str, Any]) -> Settings:
    """e2e settings with the console on (on a known free port) and credits on."""
    http = {"port": free_port(), "console_token": TOKEN, **overrides.pop("http", {})}
    credits = {"enabled": True, "initial_balance": 100, **overrides.pop("credits", {})}
    return make_settings(http=http, credits=credits, **overrides)


def base_url(settings: Settings) -> str:
    """Where the process's HTTP server listens."""
    return f"http://127.0.0.1:{settings.http.port}"


@asynccontextmanager
async def running_as(settings: Settings, role: Role) -> AsyncIterator[Reelay]:
    """A Reelay in ``role`` (a second process on the same Redis), stopped cleanly at the end."""
    reelay = Reelay(settings, role)
    await reelay.start()
    try:
        yield reelay
    finally:
        await asyncio.wait_for(reelay.stop(), timeout=20)


@asynccontextmanager
async def signed_in(settings: Settings) -> AsyncIterator[Console]:
    """A running Reelay with ``settings`` and a client signed in to its console."""
    async with running(settings) as reelay, httpx.AsyncClient(base_url=base_url(settings), timeout=10) as client:
        answer = await sign_in(client)
        assert answer.status_code == 303, answer.text
        yield Console(reelay, client)


def flash_on(page: httpx.Response) -> str:
    """The message shown once at the top of a page ("" when none)."""
    match = _FLASH.search(page.text)
    return html.unescape(match.group(1)).strip() if match else ""


async def store(reelay: Reelay, job: Job) -> Job:
    """Store a job directly (as a handler would), with its session."""
    await reelay.jobs.create(job, Session(chat_id=job.chat_id, user_id=job.user_id))
    return job


async def wait_for(reelay: Reelay, job_id: str, status: JobStatus, timeout: float = 15.0) -> Job:
    """Wait until the job reaches ``status``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (job := await reelay.jobs.get(job_id)).status is not status:
        if loop.time() > deadline:
            raise AssertionError(f"job {job_id} is {job.status}, not {status}")
        await asyncio.sleep(0.05)
    return job


Events = AsyncIterator[tuple[str, dict[str, Any]]]


async def events(response: httpx.Response) -> Events:
    """The Server-Sent Events of a streamed response, as ``(event, data)``."""
    name, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif line == "" and data:
            yield name, json.loads(data)
            name, data = "message", ""


async def next_event(stream: Events, wanted: str, timeout: float = 15.0) -> dict[str, Any]:
    """The next event named ``wanted`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        async for name, data in stream:
            if name == wanted:
                return data
    raise AssertionError(f"the stream ended before a {wanted!r} event")
