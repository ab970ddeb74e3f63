"""Videos per user per UTC day on Redis (implements ``poller.ports.DailyQuota``).

One counter per user and day, ``reelay:daily:{u<user_id>}:<YYYYMMDD>``, that expires an hour after its day
ends. Each operation is one Lua script on that one key, so it is atomic across any number of bot processes
and runs on Redis Cluster. The day is part of the key, so a new day starts from zero without a reset, and a
give-back after midnight still undoes the day its video was counted on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from poller.ports import QuotaTake
from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.redis_support import RedisClient, require_text_responses
from storage.script_batcher import ScriptBatcher

# Closes the race of two prompts of one user at once (two bot processes): a read, a compare and a write
# apart would let both pass at limit - 1. Here the increment is the check; a take over the limit is undone
# in the same step, so the count never stays above the limit.
# KEYS: the day's counter.  ARGV: limit, ttl seconds.  Returns {ok (1/0), count after}.
_TAKE = """
local n = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return {0, n - 1}
end
return {1, n}
"""

# A give-back never takes the count below zero (a counter that expired meanwhile stays gone).
# KEYS: the day's counter.  Returns the count after.
_GIVE_BACK = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= 0 then return 0 end
return redis.call('DECR', KEYS[1])
"""

_GRACE_S = 3600  # the counter outlives its day by this much, so a give-back just after midnight finds it


class RedisDailyQuota:
    """Per-user daily video counts, taken and given back atomically."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX) -> None:
        require_text_responses(redis)
        self._redis = redis
        self._keys = RedisKeys(prefix)
        # Taken on a prompt's way to its ack: pipelined on the kept connection like the create.
        self._take = ScriptBatcher(redis, _TAKE)
        self._give_back = ScriptBatcher(redis, _GIVE_BACK)

    async def take(self, user_id: int, limit: int, now: float) -> QuotaTake:
        """Count one video for today (UTC at ``now``) unless ``limit`` were counted already."""
        if limit <= 0:
            raise ValueError("the daily limit must be positive")
        day, resets_at = _utc_day(now)
        ttl = int(resets_at - now) + _GRACE_S
        reply: Any = await self._take.call([self._keys.daily_videos(user_id, day)], [str(limit), str(ttl)])
        return QuotaTake(ok=int(reply[0]) == 1, user_id=user_id, day=day, used=int(reply[1]), resets_at=resets_at)

    async def give_back(self, take: QuotaTake) -> None:
        """Undo a successful take (the job it counted was never created)."""
        if take.ok:
            await self._give_back.call([self._keys.daily_videos(take.user_id, take.day)], [])

    async def used(self, user_id: int, now: float) -> int:
        """How many videos the user started on the UTC day of ``now``."""
        day, _ = _utc_day(now)
        reply: Any = await self._redis.get(self._keys.daily_videos(user_id, day))
        return int(reply or 0)


def _utc_day(now: float) -> tuple[str, float]:
    """The UTC day of ``now`` as ``YYYYMMDD``, and the Unix time it ends (the next midnight UTC)."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return today.strftime("%Y%m%d"), midnight.timestamp()
