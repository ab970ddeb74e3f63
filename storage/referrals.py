"""Invitations: each user's invite code, who invited whom (once, never oneself, never re-linked), and the bonus both
get at the invitee's first purchase, exactly once each.

Keys: ``<prefix>:referrals:codes`` (code -> inviter), ``<prefix>:referrals:code_of`` (inviter -> code) and
``<prefix>:referrals:inviter_of`` (invitee -> inviter), each one hash; the bonuses are fields of the two users' credit
accounts (``referral:bonus`` in the invitee's, ``referral:<invitee>`` in the inviter's), each written with the balance
in one script, so a redelivered payment, a second process or a retry after a crash pays nobody twice."""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any

import structlog

from storage.credits import RedisCredits
from storage.keys import DEFAULT_PREFIX, redis_key
from storage.redis_support import RedisClient

log = structlog.get_logger(__name__)

CODE_BYTES = 6  # 8 URL-safe characters: ``ref_`` + code fits Telegram's 64-character start parameter easily

# KEYS: code -> inviter, inviter -> code.  ARGV: inviter, a fresh code.  Returns the inviter's code (made once).
_CODE = """
local known = redis.call('HGET', KEYS[2], ARGV[1])
if known then return known end
if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[1]) == 0 then return false end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return ARGV[2]
"""

# KEYS: account.  ARGV: field, bonus, initial balance.  Returns 1 when this call paid the bonus.
_BONUS = """
redis.call('HSETNX', KEYS[1], 'balance', ARGV[3])
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'balance', tonumber(ARGV[2]))
return 1
"""


class LinkOutcome(StrEnum):
    """What following an invite link did."""

    LINKED = "linked"
    ALREADY = "already"  # this user was linked before (to whoever): never re-linked
    SELF = "self"
    UNKNOWN = "unknown"  # no such code


class RedisReferrals:
    """Invite codes, links and bonuses."""

    def __init__(self, redis: RedisClient, credits: RedisCredits | None, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = redis
        self._credits = credits
        self._codes = redis_key(prefix, "referrals", "codes")
        self._code_of = redis_key(prefix, "referrals", "code_of")
        self._inviter_of = redis_key(prefix, "referrals", "inviter_of")
        self._code = redis.register_script(_CODE)
        self._bonus = redis.register_script(_BONUS)

    async def code_for(self, user_id: int) -> str:
        """The user's invite code, made on first use and the same ever after."""
        while True:
            reply: Any = await self._code(
                keys=[self._codes, self._code_of], args=[int(user_id), secrets.token_urlsafe(CODE_BYTES)]
            )
            if reply:  # a fresh code that was taken already (vanishingly rare) asks for another
                return str(reply)

    async def link(self, invitee_id: int, code: str) -> LinkOutcome:
        """Link a user who followed ``code`` to its inviter, once."""
        raw: Any = await self._redis.hget(self._codes, code)
        if raw is None:
            return LinkOutcome.UNKNOWN
        inviter = int(raw)
        if inviter == invitee_id:
            return LinkOutcome.SELF
        linked = await self._redis.hsetnx(self._inviter_of, str(invitee_id), str(inviter))
        outcome = LinkOutcome.LINKED if linked else LinkOutcome.ALREADY
        log.info("referral.link", invitee_id=invitee_id, inviter_id=inviter, outcome=outcome.value)
        return outcome

    async def inviter_of(self, invitee_id: int) -> int | None:
        """Who invited the user, if anyone."""
        raw: Any = await self._redis.hget(self._inviter_of, str(invitee_id))
        return int(raw) if raw is not None else None

    async def reward(self, invitee_id: int, bonus: int) -> bool:
        """After a purchase of the invitee: the bonus to both, each exactly once (True when anything was paid now).
        Called after every payment, so a crash between the two grants is repaired by the next delivery."""
        inviter = await self.inviter_of(invitee_id)
        if inviter is None or bonus <= 0 or self._credits is None:
            return False
        initial = self._credits.initial_balance
        to_invitee: Any = await self._bonus(
            keys=[self._credits.key(invitee_id)], args=["referral:bonus", bonus, initial]
        )
        to_inviter: Any = await self._bonus(
            keys=[self._credits.key(inviter)], args=[f"referral:{int(invitee_id)}", bonus, initial]
        )
        paid = bool(int(to_invitee)) or bool(int(to_inviter))
        if paid:
            log.info("referral.bonus", invitee_id=invitee_id, inviter_id=inviter, bonus=bonus)
        return paid
