"""API keys in Redis: created once, found by key, listed without keys or secrets, revoked; only a hash is kept."""

from __future__ import annotations

import asyncio

import pytest

from storage.api_keys import ApiKeyError, RedisApiKeys, digest_of
from storage.redis_support import RedisClient
from webhooks.signing import new_secret, secret_key

pytestmark = pytest.mark.integration


@pytest.fixture
def api_keys(any_redis: RedisClient) -> RedisApiKeys:
    return RedisApiKeys(any_redis, make_secret=new_secret, prefix="t")


async def test_create_returns_a_urlsafe_key_and_whsec_secret_that_lookup_finds(api_keys: RedisApiKeys) -> None:
    key, secret = await api_keys.create("zapier", user_id=42, chat_id=-100)

    assert key.startswith("rk_")
    assert len(key) >= 3 + 43  # 32 random bytes, URL-safe base64
    assert set(key[3:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(secret_key(secret)) == 32
    record = await api_keys.lookup(key)
    assert record is not None
    assert (record.name, record.user_id, record.chat_id, record.secret, record.revoked) == (
        "zapier",
        42,
        -100,
        secret,
        False,
    )


async def test_unknown_malformed_and_near_miss_keys_find_nothing(api_keys: RedisApiKeys) -> None:
    key, _ = await api_keys.create("one")

    assert await api_keys.lookup(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert await api_keys.lookup("rk_") is None
    assert await api_keys.lookup(key[3:]) is None
    assert await api_keys.lookup("") is None


async def test_redis_holds_only_the_hash_of_the_key(api_keys: RedisApiKeys, any_redis: RedisClient) -> None:
    key, _ = await api_keys.create("hashed", user_id=7)

    everything: list[str] = []
    async for name in any_redis.scan_iter(match="t:*"):
        everything.append(name)
        kind = await any_redis.type(name)
        assert kind == "hash"
        everything += [part for pair in (await any_redis.hgetall(name)).items() for part in pair]
    assert everything
    assert not [text for text in everything if key in text or key[3:] in text]
    assert any(digest_of(key) in text for text in everything)


async def test_names_are_unique_even_when_created_at_once(api_keys: RedisApiKeys) -> None:
    results = await asyncio.gather(*(api_keys.create("same") for _ in range(5)), return_exceptions=True)

    assert sum(isinstance(result, tuple) for result in results) == 1
    assert sum(isinstance(result, ApiKeyError) for result in results) == 4
    assert [record.name for record in await api_keys.list()] == ["same"]


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "naïve"])
async def test_malformed_names_are_refused(api_keys: RedisApiKeys, name: str) -> None:
    with pytest.raises(ApiKeyError):
        await api_keys.create(name)


async def test_revoke_makes_lookup_fail_and_list_shows_it(api_keys: RedisApiKeys) -> None:
    first, _ = await api_keys.create("first")
    second, _ = await api_keys.create("second", user_id=9)

    await api_keys.revoke("first")

    assert await api_keys.lookup(first) is None
    assert await api_keys.lookup(second) is not None
    listed = {record.name: record.revoked for record in await api_keys.list()}
    assert listed == {"first": True, "second": False}
    with pytest.raises(ApiKeyError):
        await api_keys.create("first")  # a revoked key's name stays taken


async def test_revoking_an_unknown_name_is_an_error(api_keys: RedisApiKeys) -> None:
    with pytest.raises(ApiKeyError, match="no API key"):
        await api_keys.revoke("nobody")
