"""Purchases of credits for Telegram Stars on the Redis ledger: each payment credited exactly once, each refund
taken back exactly once.

A purchase lives in the buyer's account hash (``RedisCredits.key``, slot ``{u<user_id>}``) as the field
``pay:<telegram_payment_charge_id>`` (a JSON record), so one Lua script writes the ledger entry and the balance
together: a redelivered ``successful_payment``, a second process or a retry after a crash finds the field and adds
nothing. The buyer's recent purchases are a list in the same slot (for ``/balance``); a hash of charge id → buyer
(one key for the deployment) lets ``/refund <charge_id>`` find the account, written after the credit and again on
every redelivery, so a crash in between is repaired.

A refund is three steps around Telegram's ``refundStarPayment``: ``start_refund`` marks the purchase ``refunding``
(after the balance check: credits already spent need ``force``), the caller asks Telegram, then ``take_back``
takes the credits back once (never below zero) or ``abort_refund`` puts the purchase back when Telegram refused.
Two admins refunding at once both reach Telegram; one succeeds, the other hears it was already refunded, and both
finishing take the credits back once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from poller.purchases import LedgerCredit
from storage.credits import RedisCredits
from storage.keys import DEFAULT_PREFIX, redis_key
from storage.redis_support import RedisClient

log = structlog.get_logger(__name__)

RECENT_PURCHASES_KEPT = 20

# KEYS: account, recent purchases.  ARGV: field, record JSON, credits, initial balance, charge id, list length
# Returns {credited (1/0), balance}
_CREDIT = """
redis.call('HSETNX', KEYS[1], 'balance', ARGV[4])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return {0, tonumber(redis.call('HGET', KEYS[1], 'balance'))}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local balance = redis.call('HINCRBY', KEYS[1], 'balance', tonumber(ARGV[3]))
redis.call('LPUSH', KEYS[2], ARGV[5])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[6]) - 1)
return {1, balance}
"""

# KEYS: account.  ARGV: field, force (1/0)
# Returns {outcome, balance, credits}: 1 ready (marked refunding), -1 unknown, -2 already refunded,
# -3 the credits were spent (balance below the pack's credits) and force was not given
_BEGIN_REFUND = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {-1, 0, 0} end
local record = cjson.decode(raw)
local balance = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0')
if record['state'] == 'refunded' then return {-2, balance, record['credits']} end
if record['state'] ~= 'refunding' and balance < record['credits'] and ARGV[2] ~= '1' then
  return {-3, balance, record['credits']}
end
record['state'] = 'refunding'
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
return {1, balance, record['credits']}
"""

# KEYS: account.  ARGV: field, now
# Returns {taken now (1/0), balance, credits taken}
_FINISH_REFUND = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {0, 0, 0} end
local record = cjson.decode(raw)
local balance = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0')
if record['state'] == 'refunded' then return {0, balance, record['taken'] or 0} end
local take = math.min(balance, record['credits'])
if take > 0 then balance = redis.call('HINCRBY', KEYS[1], 'balance', -take) end
record['state'] = 'refunded'
record['taken'] = take
record['refunded_at'] = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
return {1, balance, take}
"""

# KEYS: account.  ARGV: field.  A refund Telegram refused changes nothing: back to credited.
_ABORT_REFUND = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local record = cjson.decode(raw)
if record['state'] ~= 'refunding' then return 0 end
record['state'] = 'credited'
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
return 1
"""


class PurchaseState(StrEnum):
    """Where one purchase is."""

    CREDITED = "credited"
    REFUNDING = "refunding"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class Purchase:
    """One payment: who paid how many Stars for which pack, and what it added."""

    charge_id: str
    user_id: int
    pack_id: str
    stars: int
    credits: int
    at: float
    state: PurchaseState = PurchaseState.CREDITED
    taken_back: int = 0  # credits a refund took back (less than ``credits`` when some were spent and forced)


@dataclass(frozen=True, slots=True)
class Credited:
    """What crediting a payment did: ``added`` is False when this charge had been credited already."""

    added: bool
    balance: int


class RefundCheck(StrEnum):
    """Whether a refund may go to Telegram."""

    READY = "ready"
    UNKNOWN = "unknown"
    ALREADY_REFUNDED = "already_refunded"
    CREDITS_SPENT = "credits_spent"


@dataclass(frozen=True, slots=True)
class RefundStart:
    """The outcome of :meth:`RedisPurchases.start_refund`, with the balance and the purchase's credits."""

    check: RefundCheck
    user_id: int | None
    balance: int = 0
    credits: int = 0


@dataclass(frozen=True, slots=True)
class RefundDone:
    """The outcome of :meth:`RedisPurchases.take_back`: ``taken`` credits came back (once)."""

    took_now: bool
    balance: int
    taken: int


_BEGIN = {
    1: RefundCheck.READY,
    -1: RefundCheck.UNKNOWN,
    -2: RefundCheck.ALREADY_REFUNDED,
    -3: RefundCheck.CREDITS_SPENT,
}


def _field(charge_id: str) -> str:
    if not charge_id or len(charge_id) > 256:
        raise ValueError("a payment charge id is 1 to 256 characters")
    return "pay:" + charge_id


class RedisPurchases:
    """The ledger of Star purchases, on the credits accounts."""

    def __init__(self, redis: RedisClient, credits: RedisCredits, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = redis
        self._credits = credits
        self._prefix = prefix
        self._credit = redis.register_script(_CREDIT)
        self._begin = redis.register_script(_BEGIN_REFUND)
        self._finish = redis.register_script(_FINISH_REFUND)
        self._abort = redis.register_script(_ABORT_REFUND)

    def _recent_key(self, user_id: int) -> str:
        return redis_key(self._prefix, "purchases", "{u" + str(int(user_id)) + "}")

    def _charges_key(self) -> str:
        return redis_key(self._prefix, "payments", "charges")

    async def credit(self, purchase: Purchase) -> Credited:
        """Add the purchase's credits unless this charge id was credited before (one script: entry and balance)."""
        if purchase.credits <= 0 or purchase.stars <= 0:
            raise ValueError("a purchase adds a positive number of credits for a positive number of Stars")
        record = {
            "pack": purchase.pack_id,
            "stars": purchase.stars,
            "credits": purchase.credits,
            "at": purchase.at,
            "state": PurchaseState.CREDITED.value,
        }
        account = self._credits.key(purchase.user_id)
        args: list[str | int] = [
            _field(purchase.charge_id),
            json.dumps(record, separators=(",", ":")),
            purchase.credits,
            self._credits.initial_balance,
            purchase.charge_id,
            RECENT_PURCHASES_KEPT,
        ]
        reply: Any = await self._credit(keys=[account, self._recent_key(purchase.user_id)], args=args)
        # Written on every delivery of the payment, so a crash right after the credit is repaired by the redelivery.
        await self._redis.hset(self._charges_key(), purchase.charge_id, str(purchase.user_id))
        outcome = Credited(added=bool(int(reply[0])), balance=int(reply[1]))
        log.info(
            "payment.credited",
            user_id=purchase.user_id,
            pack=purchase.pack_id,
            stars=purchase.stars,
            credits=purchase.credits,
            added=outcome.added,
        )
        return outcome

    async def credit_payment(
        self, *, charge_id: str, user_id: int, pack_id: str, stars: int, credits: int, at: float
    ) -> LedgerCredit:
        """``poller.purchases.PurchaseLedger``: :meth:`credit` for one payment."""
        done = await self.credit(Purchase(charge_id, user_id, pack_id, stars, credits, at))
        return LedgerCredit(done.added, done.balance)

    async def buyer_of(self, charge_id: str) -> int | None:
        """Who made the payment ``charge_id`` (None when this deployment never credited it)."""
        raw: Any = await self._redis.hget(self._charges_key(), charge_id)
        return int(raw) if raw is not None else None

    async def purchase(self, user_id: int, charge_id: str) -> Purchase | None:
        """One purchase of ``user_id``, or None."""
        raw: Any = await self._redis.hget(self._credits.key(user_id), _field(charge_id))
        return _purchase(user_id, charge_id, raw) if raw is not None else None

    async def recent(self, user_id: int, limit: int = 5) -> list[Purchase]:
        """The user's latest purchases, newest first."""
        charge_ids: Any = await self._redis.lrange(self._recent_key(user_id), 0, max(0, limit - 1))
        found = [await self.purchase(user_id, str(charge_id)) for charge_id in charge_ids]
        return [purchase for purchase in found if purchase is not None]

    async def begin_refund(self, charge_id: str, *, force: bool = False) -> tuple[str, int | None, int, int]:
        """``poller.purchases.PurchaseLedger``: :meth:`start_refund` as (check, buyer, balance, credits)."""
        start = await self.start_refund(charge_id, force=force)
        return start.check.value, start.user_id, start.balance, start.credits

    async def finish_refund(self, user_id: int, charge_id: str) -> tuple[int, int]:
        """``poller.purchases.PurchaseLedger``: :meth:`take_back` as (balance, taken)."""
        done = await self.take_back(user_id, charge_id)
        return done.balance, done.taken

    async def start_refund(self, charge_id: str, *, force: bool = False) -> RefundStart:
        """Mark the purchase as being refunded, unless it is unknown, refunded, or (without ``force``) its credits
        were spent already."""
        user_id = await self.buyer_of(charge_id)
        if user_id is None:
            return RefundStart(RefundCheck.UNKNOWN, None)
        reply: Any = await self._begin(
            keys=[self._credits.key(user_id)], args=[_field(charge_id), "1" if force else "0"]
        )
        return RefundStart(_BEGIN[int(reply[0])], user_id, balance=int(reply[1]), credits=int(reply[2]))

    async def take_back(self, user_id: int, charge_id: str) -> RefundDone:
        """Telegram refunded the Stars: take the credits back, once, never below zero."""
        reply: Any = await self._finish(keys=[self._credits.key(user_id)], args=[_field(charge_id), time.time()])
        done = RefundDone(took_now=bool(int(reply[0])), balance=int(reply[1]), taken=int(reply[2]))
        log.info("payment.refunded", user_id=user_id, taken=done.taken, took_now=done.took_now)
        return done

    async def abort_refund(self, user_id: int, charge_id: str) -> None:
        """Telegram refused the refund: the purchase is as it was."""
        await self._abort(keys=[self._credits.key(user_id)], args=[_field(charge_id)])


def _purchase(user_id: int, charge_id: str, raw: Any) -> Purchase | None:
    try:
        data = json.loads(raw)
        return Purchase(
            charge_id=charge_id,
            user_id=user_id,
            pack_id=str(data["pack"]),
            stars=int(data["stars"]),
            credits=int(data["credits"]),
            at=float(data["at"]),
            state=PurchaseState(data.get("state", "credited")),
            taken_back=int(data.get("taken", 0)),
        )
    except (ValueError, KeyError, TypeError):
        return None
