"""Photos on their way to a job, kept briefly in Redis so that any bot process can finish what another began.

* :class:`PendingPhotos`: a photo sent without a caption waits for the reply that describes it, under a key of the
  user's own (a reply by anyone else finds nothing) and an unguessable token; taken once (``GETDEL``).
* :class:`AlbumCollector`: an album arrives as one update per photo, possibly at different processes. Each adds its
  photo to one list; the first to claim the album (``SET NX``) waits a moment, then reads the list and makes the one
  job. Both keys share a hash tag (Redis Cluster) and expire on their own.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass

from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.redis_support import RedisClient, require_text_responses, text_list, text_optional

PENDING_TTL_S = 3600
ALBUM_TTL_S = 120


@dataclass(frozen=True, slots=True)
class PhotoRef:
    """One photo as Telegram described it: enough to check it cheaply and to fetch it later."""

    file_id: str
    message_id: int
    width: int | None = None
    height: int | None = None
    size: int | None = None
    document: bool = False  # sent as a file: its type is read from its first bytes
    caption: str = ""

    def to_json(self) -> str:
        """As stored."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PhotoRef | None:
        """Rebuild one; None for anything else."""
        try:
            data = json.loads(text)
            return cls(**data) if isinstance(data, dict) else None
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class PendingPhoto:
    """Photos (the first frame, maybe a last) waiting for the description that starts their job."""

    chat_id: int
    file_ids: tuple[str, ...]


class PendingPhotos:
    """Photos waiting for their description, one key per user and token."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX, ttl_s: int = PENDING_TTL_S) -> None:
        require_text_responses(redis)
        self._redis, self._keys, self._ttl_s = redis, RedisKeys(prefix), ttl_s

    async def put(self, user_id: int, pending: PendingPhoto) -> str:
        """Keep ``pending`` for ``user_id``; return the token the question carries."""
        token = secrets.token_urlsafe(9)
        value = json.dumps({"chat_id": pending.chat_id, "file_ids": list(pending.file_ids)})
        await self._redis.set(self._keys.pending_photo(user_id, token), value, ex=self._ttl_s)
        return token

    async def take(self, user_id: int, token: str) -> PendingPhoto | None:
        """The photos ``user_id`` left under ``token``, once; None when expired, taken, or someone else's."""
        raw = text_optional(await self._redis.getdel(self._keys.pending_photo(user_id, token)))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return PendingPhoto(int(data["chat_id"]), tuple(str(file_id) for file_id in data["file_ids"]))
        except (ValueError, KeyError, TypeError):
            return None


class AlbumCollector:
    """An album's photos gathered across processes; exactly one caller is told to make its job."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX, ttl_s: int = ALBUM_TTL_S) -> None:
        require_text_responses(redis)
        self._redis, self._keys, self._ttl_s = redis, RedisKeys(prefix), ttl_s

    async def add(self, chat_id: int, media_group_id: str, photo: PhotoRef) -> bool:
        """Add one photo; True for the one caller (of every process) that claims the album and makes its job."""
        photos = self._keys.album(chat_id, media_group_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.rpush(photos, photo.to_json())
            pipe.expire(photos, self._ttl_s)
            pipe.set(self._keys.album_claim(chat_id, media_group_id), "1", nx=True, ex=self._ttl_s)
            *_, claimed = await pipe.execute()
        return bool(claimed)

    async def photos(self, chat_id: int, media_group_id: str) -> list[PhotoRef]:
        """The album's photos that arrived so far, in the order the user sent them (by message id)."""
        raw = text_list(await self._redis.lrange(self._keys.album(chat_id, media_group_id), 0, -1))
        found = {ref.message_id: ref for ref in map(PhotoRef.from_json, raw) if ref is not None}
        return [found[message_id] for message_id in sorted(found)]
