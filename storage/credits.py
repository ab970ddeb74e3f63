"""The credits ledger on Redis, and the ``poller.ports.Billing`` adapters built on it.

One hash per user, ``reelay:credits:{u<user_id>}``: a ``balance`` field (credits the user can
spend now; reserved credits are already taken out) and one field per job, ``job:<job_id>``, holding
that job's billing state as ``<state>:<amount>`` (``reserved:5``, ``captured:5``, ``refunded:5``).
The ``{u<user_id>}`` hash tag puts the whole account in one Redis Cluster slot and every operation
is one Lua script on that one key, so the ledger is cluster-safe and every change is atomic.

Races the scripts close (each is a read-check-write that nothing can interleave with):

- **Two processes refunding one job** (the sweeper's timeout and a failed poll, or a process that
  died after refunding and was adopted): the script flips ``reserved`` to ``refunded`` and adds
  the amount in one step; the second caller sees ``refunded`` and gets False. One refund, ever.
- **Refund racing capture** (a success that lands as the deadline passes): both only move away
  from ``reserved``, so whichever runs first wins and the other gets False. A captured job is
  never refunded and a refunded job is never captured; a late delivery after a timeout keeps the
  refund and charges nothing.
- **A reserve retried after a timeout** (the reply was lost, not the write): the job's field is the
  idempotency key; a second reserve sees it and charges nothing (``already=True``).
- **Concurrent reserves from one balance**: the balance check and the debit are one step, so the
  balance never goes below zero however many jobs start at once.

Accounts are created lazily: the first write sets ``balance`` to the configured initial balance
with HSETNX; ``balance()`` only reads and reports the initial balance for an unknown user.
Settled job fields are kept (about 30 bytes each) because they are what makes a late retry
harmless; the account has no TTL.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import structlog

from poller.jobs import Job
from poller.ports import Reservation
from storage.keys import DEFAULT_PREFIX, redis_key
from storage.redis_support import RedisClient, require_text_responses

log = structlog.get_logger(__name__)

_BALANCE = "balance"


class BillingState(StrEnum):
    """Where one job's credits are."""

    RESERVED = "reserved"
    CAPTURED = "captured"
    REFUNDED = "refunded"


# Idempotent reserve. A job that already has a field is never charged again: reserved/captured
# answer ok (the retry of a reserve that did succeed), refunded answers not ok (the job ended; a
# new attempt needs a new job id).
# KEYS: account.  ARGV: job field, amount, initial balance
# Returns {ok (1/0), balance, already (1/0)}
_RESERVE = """
redis.call('HSETNX', KEYS[1], 'balance', ARGV[3])
local balance = tonumber(redis.call('HGET', KEYS[1], 'balance'))
local state = redis.call('HGET', KEYS[1], ARGV[1])
if state then
  local kind = string.match(state, '^(%a+):')
  local ok = 0
  if kind == 'reserved' or kind == 'captured' then ok = 1 end
  return {ok, balance, 1}
end
local amount = tonumber(ARGV[2])
if balance < amount then return {0, balance, 0} end
-- Lua would send 0 as '-0', which HINCRBY rejects.
if amount > 0 then balance = redis.call('HINCRBY', KEYS[1], 'balance', -amount) end
redis.call('HSET', KEYS[1], ARGV[1], 'reserved:' .. ARGV[2])
return {1, balance, 0}
"""

# Capture or refund: only from 'reserved', exactly once. A refund puts the amount back in the
# same step, so a crash can never leave the state flipped without the money (or the reverse).
# KEYS: account.  ARGV: job field, target state, give back (1/0)
# Returns 1 when this call moved the job, 0 when it was already settled, -1 when never reserved.
_SETTLE = """
local state = redis.call('HGET', KEYS[1], ARGV[1])
if not state then return -1 end
local kind, amount = string.match(state, '^(%a+):(%d+)$')
if kind ~= 'reserved' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. amount)
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], 'balance', amount) end
return 1
"""

# Admin grant (negative to correct). The balance is floored at zero: a correction larger than the
# balance takes what is there, because a negative balance would block the user with no way out.
# KEYS: account.  ARGV: delta, initial balance
_GRANT = """
redis.call('HSETNX', KEYS[1], 'balance', ARGV[2])
local balance = redis.call('HINCRBY', KEYS[1], 'balance', ARGV[1])
if balance < 0 then
  redis.call('HSET', KEYS[1], 'balance', 0)
  balance = 0
end
return balance
"""


# The ledger's reserve answers the core's Reservation (``poller.ports``); the old name stays for callers.
ReserveResult = Reservation


def _job_field(job_id: str) -> str:
    # Job ids are URL-safe tokens, so "job:<id>" can never collide with "balance".
    if not job_id:
        raise ValueError("empty job id")
    return "job:" + job_id


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"credit amounts are non-negative integers, got {amount!r}")


class RedisCredits:
    """Per-user credit balances with reserve/capture/refund per job, each exactly once."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX, initial_balance: int) -> None:
        require_text_responses(redis)
        _check_amount(initial_balance)
        self._redis = redis
        self._prefix = prefix
        self._initial = initial_balance
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)
        self._grant = redis.register_script(_GRANT)

    @property
    def initial_balance(self) -> int:
        """What an account starts with (set by the first write to it)."""
        return self._initial

    def key(self, user_id: int) -> str:
        """The user's account hash (one Cluster slot thanks to the ``{u<id>}`` hash tag)."""
        return redis_key(self._prefix, "credits", "{u" + str(int(user_id)) + "}")

    async def balance(self, user_id: int) -> int:
        """Credits the user can spend now (the initial balance for an account never used)."""
        raw: Any = await self._redis.hget(self.key(user_id), _BALANCE)
        return self._initial if raw is None else int(raw)

    async def reserve(self, user_id: int, job_id: str, amount: int) -> Reservation:
        """Take ``amount`` for ``job_id`` if the balance allows; a repeated reserve never charges again."""
        _check_amount(amount)
        reply: Any = await self._reserve(keys=[self.key(user_id)], args=[_job_field(job_id), amount, self._initial])
        result = Reservation(ok=bool(int(reply[0])), balance=int(reply[1]), already=bool(int(reply[2])))
        log.info("credits_reserve", user_id=user_id, job_id=job_id, amount=amount, ok=result.ok, already=result.already)
        return result

    async def capture(self, user_id: int, job_id: str) -> bool:
        """Keep the job's reserved credits; True only for the call that did it."""
        return await self._move(user_id, job_id, BillingState.CAPTURED, give_back=False)

    async def refund(self, user_id: int, job_id: str) -> bool:
        """Give the job's reserved credits back; True only once, and never after a capture."""
        return await self._move(user_id, job_id, BillingState.REFUNDED, give_back=True)

    async def grant(self, user_id: int, amount: int) -> int:
        """Add ``amount`` (negative to correct; the balance stops at 0); return the new balance."""
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValueError(f"grant amount must be an integer, got {amount!r}")
        reply: Any = await self._grant(keys=[self.key(user_id)], args=[amount, self._initial])
        balance = int(reply)
        log.info("credits_grant", user_id=user_id, amount=amount, balance=balance)
        return balance

    async def state(self, user_id: int, job_id: str) -> str | None:
        """The job's billing state (``reserved``/``captured``/``refunded``), or None if never reserved."""
        raw: Any = await self._redis.hget(self.key(user_id), _job_field(job_id))
        return None if raw is None else str(raw).partition(":")[0]

    async def _move(self, user_id: int, job_id: str, target: BillingState, *, give_back: bool) -> bool:
        args = [_job_field(job_id), target.value, "1" if give_back else "0"]
        outcome = int(await self._settle(keys=[self.key(user_id)], args=args))
        if outcome < 0:
            log.warning("credits_not_reserved", user_id=user_id, job_id=job_id, target=target.value)
        else:
            log.info("credits_settle", user_id=user_id, job_id=job_id, target=target.value, moved=outcome == 1)
        return outcome == 1


class RedisBilling:
    """``poller.ports.Billing`` on the Redis ledger: settles the job's reservation by user and id."""

    def __init__(self, credits: RedisCredits) -> None:
        self._credits = credits

    async def capture(self, job: Job) -> bool:
        """Keep the job's reserved credits; True only the first time."""
        return await self._credits.capture(job.user_id, job.id)

    async def refund(self, job: Job) -> bool:
        """Give the job's reserved credits back; True only the first time (never after a capture)."""
        return await self._credits.refund(job.user_id, job.id)


class NoBilling:
    """``poller.ports.Billing`` when credits are switched off: nothing is ever charged or refunded."""

    async def capture(self, job: Job) -> bool:
        """Nothing was reserved, so nothing is captured."""
        return False

    async def refund(self, job: Job) -> bool:
        """Nothing was reserved, so nothing is refunded."""
        return False
