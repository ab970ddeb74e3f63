"""Wrong sign-in tokens per client address, counted in Redis so that every process sees one lockout.

One key per address (``reelay:console:failed:<address>``) holding the count of wrong tokens; it lives ``window_s``
from the first wrong try, and from the try that reaches the limit on, so the address is locked out for a whole
window after its last allowed try. Every process reads the same key: a lockout holds across a fleet.
"""

from __future__ import annotations

from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.redis_support import RedisClient, require_text_responses, text_optional

# Counts a wrong try and (re)starts the window in one step: a separate INCR and EXPIRE would leave a counter without
# a TTL (an address locked out for good) if the process died in between.
# KEYS: the address's counter.  ARGV: limit, window seconds.  Returns the count after this try.
_COUNT_FAILURE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or n >= tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return n
"""


class RedisSignInAttempts:
    """Locks an address out for ``window_s`` once it sent ``limit`` wrong tokens within ``window_s``."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX, limit: int = 5, window_s: int = 60) -> None:
        require_text_responses(redis)
        if limit <= 0 or window_s <= 0:
            raise ValueError("limit and window_s must be positive")
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self.limit = limit
        self.window_s = window_s
        self._count_failure = redis.register_script(_COUNT_FAILURE)

    async def locked(self, address: str) -> bool:
        """Whether ``address`` used up its tries: refuse it without looking at the token."""
        count = text_optional(await self._redis.get(self._keys.console_sign_in_failures(address)))
        return count is not None and int(count) >= self.limit

    async def failed(self, address: str) -> int:
        """Count a wrong token from ``address``; the count so far in this window."""
        key = self._keys.console_sign_in_failures(address)
        return int(await self._count_failure(keys=[key], args=[self.limit, self.window_s]))

    async def succeeded(self, address: str) -> None:
        """Forget the wrong tries of an address that then signed in."""
        await self._redis.delete(self._keys.console_sign_in_failures(address))
