"""Small helpers shared by the Redis stores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.typing import EncodableT, FieldT

# Every store takes either client: one Redis node (or Sentinel's master) or a Redis Cluster.
RedisClient = Redis | RedisCluster

POOL_SIZE = 64
POOL_WAIT_S = 30.0


def connect_redis(url: str, *, cluster: bool = False) -> RedisClient:
    """A client with text responses, as every store expects.

    One node gets a *blocking* pool: under a burst of due steps a command waits for a free connection
    instead of failing with "Too many connections" (redis-py's default pool raises at its limit; seen
    as crashed steps in benchmarks/engine_capacity.py). The client owns its pool (``from_pool``), so closing
    the client closes the pool's connections; ``Redis(connection_pool=...)`` would leave them open.
    """
    if cluster:
        return RedisCluster.from_url(url, decode_responses=True)
    pool = BlockingConnectionPool.from_url(
        url, decode_responses=True, health_check_interval=30, max_connections=POOL_SIZE, timeout=POOL_WAIT_S
    )
    return Redis.from_pool(pool)


def require_text_responses(redis: Any) -> None:
    """Refuse a client that returns bytes: the stores read hashes as ``dict[str, str]``.

    Create the client with ``redis.asyncio.from_url(url, decode_responses=True)`` (or
    ``RedisCluster(..., decode_responses=True)``).
    """
    encoder = redis.get_encoder() if hasattr(redis, "get_encoder") else None
    if encoder is not None and not getattr(encoder, "decode_responses", False):
        raise ValueError("the Redis client must be created with decode_responses=True")


def hash_mapping(fields: Mapping[str, str]) -> dict[FieldT, EncodableT]:
    """Fields typed the way redis-py's ``hset(mapping=…)`` declares them."""
    return {name: value for name, value in fields.items()}


def text_hash(reply: Any) -> dict[str, str]:
    """An HGETALL reply from a ``decode_responses=True`` client."""
    return cast("dict[str, str]", reply)


def text_list(reply: Any) -> list[str]:
    """A list-of-members reply from a ``decode_responses=True`` client."""
    return cast("list[str]", reply)


def text_optional(reply: Any) -> str | None:
    """A GET-like reply from a ``decode_responses=True`` client (None for a missing key)."""
    return cast("str | None", reply)


def text_optionals(reply: Any) -> list[str | None]:
    """An HMGET/MGET reply from a ``decode_responses=True`` client (None for missing)."""
    return cast("list[str | None]", reply)


ScriptCall = tuple[Sequence[str], Sequence[EncodableT]]


async def eval_many(redis: RedisClient, script: str, calls: Sequence[ScriptCall]) -> list[Any]:
    """Run one script for many ``(keys, args)`` in one pipeline (no transaction); the replies in order.

    Each call is still atomic on its own and may hit a different cluster slot. The script body is
    sent with EVAL: redis-py refuses EVALSHA in cluster pipelines, and EVAL cannot meet NOSCRIPT
    after a restart. Meant for short scripts (the body travels once per call).
    """
    if not calls:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for keys, args in calls:
            pipe.eval(script, len(keys), *keys, *args)
        replies: list[Any] = await pipe.execute()
    return replies
