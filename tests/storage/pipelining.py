"""Helpers for the tests of pipelined commands: how many socket writes, how many commands Redis ran."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection


def count_writes(connection: AbstractConnection) -> list[int]:
    """Record every write on ``connection`` (the number of packed pieces each carried) in the returned list."""
    writes: list[int] = []
    send = connection.send_packed_command

    async def counted(command: Any, check_health: bool = True) -> None:
        writes.append(len(command))
        await send(command, check_health=check_health)

    connection.send_packed_command = counted  # type: ignore[method-assign]
    return writes


async def command_count(client: aioredis.Redis, name: str) -> int:
    """How many times Redis ran ``name`` since it started (``INFO commandstats``)."""
    stats = await client.info("commandstats")
    entry = stats.get(f"cmdstat_{name}")
    return int(entry["calls"]) if entry else 0
