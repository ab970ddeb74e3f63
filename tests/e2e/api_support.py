"""Helpers for the job API's end-to-end tests: keys, a client on the running process, SSE parsing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from bot.app import Reelay
from storage.api_keys import RedisApiKeys
from webhooks.signing import new_secret


async def new_key(reelay: Reelay, name: str, *, user_id: int | None = None, chat_id: int | None = None) -> str:
    """A fresh API key in the process's Redis."""
    keys = RedisApiKeys(reelay.redis, make_secret=new_secret, prefix=reelay.settings.redis.prefix)
    key, _ = await keys.create(name, user_id=user_id, chat_id=chat_id)
    return key


@asynccontextmanager
async def api_client(reelay: Reelay, key: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the process's HTTP port, authorized with ``key``."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    base = f"http://127.0.0.1:{reelay.http_port}"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        yield client


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The events of a finished stream: ``{"id", "event", "data"}`` each (comments are skipped)."""
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = json.loads(value) if name == "data" else value
        if "event" in fields:
            events.append(fields)
    return events
