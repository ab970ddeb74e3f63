"""Users admitted by an invite code (``access.mode = "invite"``): one Redis set, ``reelay:access:admitted``.

Admission is for good, so this process remembers every user it has seen admitted and asks Redis only about
users it has not: a returning user costs no round trip. (A user removed from the set by hand stays admitted
in processes that already saw them until they restart.)
"""

from __future__ import annotations

from typing import Any

from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.pipelined_commands import PipelinedCommands
from storage.redis_support import RedisClient, require_text_responses


class RedisAdmissions:
    """Who an invite code let in, shared by every bot process."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX) -> None:
        require_text_responses(redis)
        self._commands = PipelinedCommands.of(redis)  # asked before a new user's first update is handled
        self._key = RedisKeys(prefix).admitted_users()
        self._known: set[int] = set()

    async def admitted(self, user_id: int) -> bool:
        """Whether an invite code admitted ``user_id`` (in any process)."""
        if user_id in self._known:
            return True
        reply: Any = await self._commands.execute("SISMEMBER", self._key, str(int(user_id)))
        if int(reply) == 1:
            self._known.add(user_id)
            return True
        return False

    async def admit(self, user_id: int) -> None:
        """Admit ``user_id`` for good."""
        await self._commands.execute("SADD", self._key, str(int(user_id)))
        self._known.add(user_id)
