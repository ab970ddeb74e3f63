"""Photos on their way to a job: an album collected across processes makes one job; a pending photo is its owner's."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from storage.photo_drafts import AlbumCollector, PendingPhoto, PendingPhotos, PhotoRef

pytestmark = pytest.mark.integration
CHAT = 42


def ref(message_id: int, caption: str = "") -> PhotoRef:
    return PhotoRef(f"file-{message_id}", message_id, 1280, 720, 1000, caption=caption)


async def test_two_processes_receiving_one_album_elect_exactly_one_maker(redis_url: str) -> None:
    one, two = (aioredis.from_url(redis_url, decode_responses=True) for _ in range(2))
    try:
        collectors = [AlbumCollector(one), AlbumCollector(two)]
        # Ten photos arriving at once, alternately at the two processes, over and over for several albums.
        for album in range(5):
            claims = await asyncio.gather(
                *(collectors[n % 2].add(CHAT, f"album-{album}", ref(10 - n)) for n in range(10))
            )
            assert claims.count(True) == 1
            photos = await collectors[1].photos(CHAT, f"album-{album}")
            assert [p.message_id for p in photos] == list(range(1, 11))  # the order the user sent them
    finally:
        await one.aclose()
        await two.aclose()


async def test_albums_of_other_chats_do_not_mix(redis_client: aioredis.Redis) -> None:
    albums = AlbumCollector(redis_client)
    assert await albums.add(CHAT, "g", ref(1, "a fox"))
    assert await albums.add(CHAT + 1, "g", ref(2))
    assert [p.caption for p in await albums.photos(CHAT, "g")] == ["a fox"]


async def test_album_keys_expire(redis_client: aioredis.Redis) -> None:
    await AlbumCollector(redis_client, ttl_s=30).add(CHAT, "g", ref(1))
    ttls = [await redis_client.ttl(key) async for key in redis_client.scan_iter("reelay:album:*")]
    assert len(ttls) == 2
    assert all(0 < ttl <= 30 for ttl in ttls)


async def test_a_pending_photo_is_taken_once_and_only_by_its_owner(redis_client: aioredis.Redis) -> None:
    pending = PendingPhotos(redis_client)
    token = await pending.put(7, PendingPhoto(CHAT, ("first", "last")))

    assert await pending.take(8, token) is None  # a reply by someone else
    assert await pending.take(7, "forged-token") is None
    assert await pending.take(7, token) == PendingPhoto(CHAT, ("first", "last"))
    assert await pending.take(7, token) is None  # a second reply starts nothing


async def test_a_pending_photo_expires(redis_client: aioredis.Redis) -> None:
    pending = PendingPhotos(redis_client, ttl_s=1)
    token = await pending.put(7, PendingPhoto(CHAT, ("first",)))
    ttls = [await redis_client.ttl(key) async for key in redis_client.scan_iter("reelay:photo:*")]
    assert ttls == [1]
    assert await pending.take(7, token) is not None
