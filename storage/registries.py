"""Small lookups shared by every process: one key per operation, so each works on Redis Cluster.

* :class:`CallbackTokens`: provider callback token -> job id (``reelay:cb:<token>``).
* :class:`ExternalSessions`: an outside system's session id -> Telegram chat id.
* :class:`TaskIndex`: provider task -> the one job that follows it (a task posted twice is one job).
* :class:`UpdateDeduplicator`: Telegram update ids already handled (webhook redelivery).
* :class:`LateChecks`: when each timed-out job's next late check is due.

Strings from outside (tokens, session and task ids) are escaped into keys by ``storage.keys``;
one that is empty or over 200 characters raises :class:`storage.keys.InvalidKeyPart`.
"""

from __future__ import annotations

import secrets
import time
from typing import TypeVar

from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.pipelined_commands import PipelinedCommands
from storage.redis_support import RedisClient, require_text_responses, text_list, text_optional

_DAY_S = 86400
_N = TypeVar("_N", int, float)


class CallbackTokens:
    """Which job a provider callback token belongs to (the token is the callback URL's secret)."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX) -> None:
        require_text_responses(redis)
        self._redis = redis
        self._keys = RedisKeys(prefix)

    async def register(self, token: str, job_id: str, ttl_s: int) -> None:
        """Map ``token`` to ``job_id`` for ``ttl_s`` seconds (replacing any earlier mapping)."""
        await self._redis.set(self._keys.callback_token(token), job_id, ex=_positive(ttl_s))

    async def job_for(self, token: str) -> str | None:
        """The job of ``token``; None when unknown or expired."""
        return text_optional(await self._redis.get(self._keys.callback_token(token)))


class ExternalSessions:
    """Session ids of other front ends (``POST /sessions``) -> the Telegram chat to deliver to.

    A mapping lives ``ttl_s`` (30 days by default) after it was last registered or looked up.
    """

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX, ttl_s: int = 30 * _DAY_S) -> None:
        require_text_responses(redis)
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._ttl = _positive(ttl_s)

    async def register(self, session_id: str, chat_id: int) -> None:
        """Map ``session_id`` to ``chat_id`` (replacing an earlier chat; the TTL starts again)."""
        await self._redis.set(self._keys.external_session(session_id), str(chat_id), ex=self._ttl)

    async def chat_for(self, session_id: str) -> int | None:
        """The chat of ``session_id`` (and its TTL starts again); None when unknown or expired."""
        chat = text_optional(await self._redis.getex(self._keys.external_session(session_id), ex=self._ttl))
        return int(chat) if chat is not None else None


# Closes the race of one provider task posted twice at once (two /webhook/poll-video calls): both
# would see "no job yet" and create one each. Binding is set-if-absent and answers the winner, in
# one step (SET NX GET needs Redis 7; this works on 6 too).
# KEYS: task.  ARGV: job id, ttl seconds
_BIND = """
local bound = redis.call('GET', KEYS[1])
if bound then return bound end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]
"""


class TaskIndex:
    """Provider task -> job id, so the same external task followed twice maps to one job."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX, ttl_s: int = 30 * _DAY_S) -> None:
        require_text_responses(redis)
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._ttl = _positive(ttl_s)
        self._bind = redis.register_script(_BIND)

    async def bind(self, provider: str, task_id: str, job_id: str) -> str:
        """Bind the task to ``job_id`` unless it is bound already; return the job id that is bound."""
        bound = await self._bind(keys=[self._keys.task(provider, task_id)], args=[job_id, str(self._ttl)])
        return str(bound)

    async def job_for(self, provider: str, task_id: str) -> str | None:
        """The job bound to the task; None when none is."""
        return text_optional(await self._redis.get(self._keys.task(provider, task_id)))


class UpdateDeduplicator:
    """Telegram update ids seen recently: a redelivered update (webhook retry) is handled once."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX) -> None:
        require_text_responses(redis)
        self._commands = PipelinedCommands.of(redis)  # every update asks: the cheap path
        self._keys = RedisKeys(prefix)

    async def first_time(self, update_id: int, ttl_s: int = _DAY_S) -> bool:
        """True the first time ``update_id`` is seen within ``ttl_s``; False for a repeat."""
        key = self._keys.telegram_update(update_id)
        mark = secrets.token_hex(8)  # whose SET this was
        if await self._commands.execute("SET", key, mark, "NX", "EX", _positive(ttl_s)):
            return True
        # A repeat, or this very SET sent again after its connection broke (its first copy landed): only
        # the latter finds its own mark, and must not drop the update as a duplicate of itself.
        return bool(await self._commands.execute("GET", key) == mark)


# Closes the race of two processes picking up one due check: only the one whose compare (still
# due) and push (due again after the retry delay) went through runs it; if it dies, the check
# comes due again instead of being lost.
# KEYS: late checks.  ARGV: job id, now, retry at
_CLAIM_DUE = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""


class LateChecks:
    """Timed-out jobs' next late checks (a zset of job id -> due time), shared by every process."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX) -> None:
        require_text_responses(redis)
        self._redis = redis
        self._key = RedisKeys(prefix).late_checks()
        self._claim_due = redis.register_script(_CLAIM_DUE)

    async def schedule(self, job_id: str, due_at: float) -> None:
        """Set (or move) the job's next check to ``due_at`` (Unix time)."""
        await self._redis.zadd(self._key, {job_id: due_at})

    async def due(self, now: float | None = None, limit: int = 100) -> list[str]:
        """Up to ``limit`` job ids whose check is due at ``now``, most overdue first."""
        if limit <= 0:
            return []
        at = time.time() if now is None else now
        return text_list(await self._redis.zrangebyscore(self._key, "-inf", at, start=0, num=limit))

    async def take(self, job_id: str) -> bool:
        """Remove the job's check; True for exactly one caller (the one that runs it)."""
        return int(await self._redis.zrem(self._key, job_id)) == 1

    async def claim_due(self, job_id: str, retry_in_s: float, now: float | None = None) -> bool:
        """Crash-safe alternative to :meth:`take`: if the check is due, push it ``retry_in_s`` later
        and return True (for one caller). The winner then calls :meth:`schedule` for the next check
        or :meth:`take` when there is none; if it dies first, the check comes due again."""
        at = time.time() if now is None else now
        won = await self._claim_due(keys=[self._key], args=[job_id, repr(at), repr(at + _positive(retry_in_s))])
        return int(won) == 1

    async def pending(self) -> int:
        """How many jobs have a late check scheduled (for metrics)."""
        count: int = await self._redis.zcard(self._key)
        return count


def _positive(value: _N) -> _N:
    if value <= 0:
        raise ValueError("TTLs and delays must be positive")
    return value
