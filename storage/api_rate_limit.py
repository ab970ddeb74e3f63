"""Each API key's request budget (``api.requests_per_minute``), shared by every process through Redis.

A generic cell rate algorithm (GCRA): one key per API key holds the "theoretical arrival time" of its next request
in ms. A key may spend its whole minute at once (a burst of ``requests_per_minute``), then one request per
``60 / requests_per_minute`` seconds; a refusal says how long until the next request would pass (``Retry-After``).
One Lua script timed by the Redis server's clock, so processes on different hosts share one budget; the key
expires once the budget is full again, so idle keys cost nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.redis_support import RedisClient, require_text_responses

# Closes the race of two processes reading the same arrival time and both spending the last request.
# KEYS: the key's budget.  ARGV: interval between requests (ms), burst (requests).
# Returns {1, 0} when allowed, else {0, ms until a request would pass}.
_TAKE = """
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, math.ceil(allow_at - now)}
end
-- PX takes whole ms; the interval is fractional for most rates (60000 / 7).
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now))
return {1, 0}
"""


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether a request may go ahead; if not, whole seconds to wait (``Retry-After``, at least 1)."""

    allowed: bool
    retry_after_s: int = 0


class ApiRateLimiter:
    """``requests_per_minute`` per API key (see the module docstring)."""

    def __init__(self, redis: RedisClient, *, requests_per_minute: int, prefix: str = DEFAULT_PREFIX) -> None:
        if requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be positive")
        require_text_responses(redis)
        self._keys = RedisKeys(prefix)
        self._interval_ms = 60_000 / requests_per_minute
        self._burst = requests_per_minute
        self._take = redis.register_script(_TAKE)

    async def take(self, key_digest: str) -> RateDecision:
        """Spend one request of the key filed under ``key_digest`` (its SHA-256; never the key itself)."""
        allowed, wait_ms = await self._take(
            keys=[self._keys.api_rate(key_digest)], args=[f"{self._interval_ms:.3f}", self._burst]
        )
        if int(allowed):
            return RateDecision(True)
        return RateDecision(False, max(1, math.ceil(float(wait_ms) / 1000)))
