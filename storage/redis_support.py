"""Small helpers shared by the Redis stores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from redis.typing import EncodableT, FieldT


def require_text_responses(redis: Any) -> None:
    """Refuse a client that returns bytes: the stores read hashes as ``dict[str, str]``.

    Create the client with ``redis.asyncio.from_url(url, decode_responses=True)``.
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
