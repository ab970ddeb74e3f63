"""The user's session under a job, in a Redis hash (implements ``poller.ports.SessionStore``)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import structlog

from poller.ports import Session
from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.redis_support import RedisClient, hash_mapping, require_text_responses, text_hash
from storage.script_batcher import ScriptBatcher

log = structlog.get_logger(__name__)


def session_to_fields(session: Session) -> dict[str, str]:
    """The session as a flat hash; settings go JSON-encoded in one field."""
    fields = {
        "chat_id": str(session.chat_id),
        "user_id": str(session.user_id),
        "language": session.language,
        "settings": json.dumps(dict(session.settings), ensure_ascii=False, sort_keys=True),
    }
    if session.status_message_id is not None:
        fields["status_message_id"] = str(session.status_message_id)
    return fields


def session_from_fields(fields: Mapping[str, str]) -> Session | None:
    """Rebuild a session from :func:`session_to_fields` output; None for an empty or partial hash."""
    if "chat_id" not in fields or "user_id" not in fields:
        return None
    settings = json.loads(fields.get("settings") or "{}")
    message_id = fields.get("status_message_id")
    return Session(
        chat_id=int(fields["chat_id"]),
        user_id=int(fields["user_id"]),
        status_message_id=int(message_id) if message_id else None,
        language=fields.get("language") or "en",
        settings={str(k): str(v) for k, v in settings.items()},
    )


# HSET only on a session that still exists: a late status-message update must not resurrect a
# session that delivery already cleaned up as a partial hash without chat or user.
_SET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class RedisSessionStore:
    """Sessions kept under ``<prefix>:job:{<id>}:session`` while a job runs."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX) -> None:
        require_text_responses(redis)
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._set_if_exists = ScriptBatcher(redis, _SET_IF_EXISTS)  # after every ack: the cheap path

    async def save(self, job_id: str, session: Session) -> None:
        """Store (replace) the session of a job."""
        key = self._keys.session(job_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=hash_mapping(session_to_fields(session)))
            await pipe.execute()

    async def get(self, job_id: str) -> Session | None:
        """The session, or None once cleaned up (or expired)."""
        fields = text_hash(await self._redis.hgetall(self._keys.session(job_id)))
        return session_from_fields(fields)

    async def set_status_message(self, job_id: str, message_id: int) -> None:
        """Remember the message that shows the job's status (ignored once the session is gone)."""
        done = await self._set_if_exists.call([self._keys.session(job_id)], ["status_message_id", str(message_id)])
        if not done:
            log.info("session_gone_status_message_ignored", job_id=job_id, message_id=message_id)

    async def delete(self, job_id: str) -> None:
        """Drop the session (the job itself stays, with a TTL)."""
        await self._redis.delete(self._keys.session(job_id))
