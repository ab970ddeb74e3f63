"""Telegram's per-bot send budget, shared in priority order: acks first, deliveries next, status edits last.

Telegram allows a bot about 30 messages a second in all and 20 a minute in one group or channel. Reelay
spends that budget on three kinds of request that matter very differently to a user: the instant
answer to what they just did (the "Video generating…" ack, a settings page, a button answer), the
finished video, and the edit of a status message ("being generated"). python-telegram-bot's
``AIORateLimiter`` serves them first come, first served, so under load acks queue behind edits.

:class:`PriorityBudget` is the bot-wide token bucket, serving waiting requests by :class:`Lane`; the
lower lanes also leave a few tokens unspent, so an ack arriving just after a burst of edits finds one.
:class:`PriorityRateLimiter` plugs it into python-telegram-bot (``ApplicationBuilder().rate_limiter``):
a request's lane is its ``rate_limit_args`` (``bot.edit_message_text(..., rate_limit_args=Lane.STATUS)``),
:attr:`Lane.INTERACTIVE` when none is given.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Coroutine
from enum import IntEnum
from typing import Any

import structlog
from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = structlog.get_logger(__name__)

JSONDict = dict[str, Any]
_Result = bool | JSONDict | list[JSONDict]


class Lane(IntEnum):
    """A request's priority for the shared budget; a lower value is served first."""

    INTERACTIVE = 0  # the answer to what a user just did: acks, replies, settings pages
    DELIVERY = 1  # finished videos and failure notices
    STATUS = 2  # status-message edits: cosmetic, they may wait (and be coalesced by the notifier)


class PriorityBudget:
    """A token bucket of ``rate`` per ``period`` (bursts up to ``burst``) that serves waiters lane by lane.

    A request of a lower lane waits while one of a higher lane waits, and takes a token only when
    ``reserve`` tokens would be left, so the higher lane always has some at hand.
    """

    def __init__(
        self, rate: float = 30.0, period: float = 1.0, *, burst: float | None = None, reserve: int = 5
    ) -> None:
        if rate <= 0 or period <= 0:
            raise ValueError("rate and period must be positive")
        self._per_s = rate / period
        self._burst = burst if burst is not None else rate
        if self._burst < 1 or not 0 <= reserve < self._burst:
            raise ValueError("burst must be at least 1 and the reserve below it")
        self._reserve = reserve
        self._tokens = self._burst
        self._stamp: float | None = None
        self._waiters: dict[Lane, deque[asyncio.Future[None]]] = {lane: deque() for lane in Lane}
        self._timer: asyncio.TimerHandle | None = None

    def waiting(self, lane: Lane) -> int:
        """How many requests of ``lane`` wait for a token now."""
        return sum(1 for waiter in self._waiters[lane] if not waiter.done())

    async def acquire(self, lane: Lane = Lane.INTERACTIVE) -> None:
        """Wait for a token; requests of higher lanes waiting at the same time are served first."""
        self._refill()
        if not self._queued_up_to(lane) and self._tokens >= 1 + self._floor(lane):
            self._tokens -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[lane].append(waiter)
        self._grant()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._tokens += 1  # granted as we were cancelled: hand the token on
                self._grant()
            raise

    def _floor(self, lane: Lane) -> int:
        return 0 if lane is Lane.INTERACTIVE else self._reserve

    def _queued_up_to(self, lane: Lane) -> bool:
        # A cancelled waiter left in a queue only sends the newcomer through _grant, which drops it.
        return any(self._waiters[other] for other in Lane if other <= lane)

    def _refill(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._stamp is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._per_s)
        self._stamp = now

    def _grant(self) -> None:
        """Hand out the tokens there are, lane by lane; then wake up when the next waiter can have one."""
        self._refill()
        for lane in Lane:
            queue = self._waiters[lane]
            while queue and (queue[0].done() or self._tokens >= 1 + self._floor(lane)):
                waiter = queue.popleft()
                if not waiter.done():  # a cancelled waiter is just dropped
                    self._tokens -= 1
                    waiter.set_result(None)
            if queue:
                # Strict priority: nobody below this lane goes ahead of its waiters; come back in time.
                self._arm((1 + self._floor(lane) - self._tokens) / self._per_s)
                return

    def _arm(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + max(0.0, delay)
        if self._timer is not None:
            if self._timer.when() <= due:
                return
            self._timer.cancel()  # a waiter of a higher lane needs fewer tokens: wake up sooner
        self._timer = loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._grant()


class PriorityRateLimiter(BaseRateLimiter[Lane]):
    """A drop-in for ``AIORateLimiter(max_retries=...)`` whose bot-wide budget is a :class:`PriorityBudget`.

    Like ``AIORateLimiter``: only requests to a chat count against the bot-wide budget (not
    ``getUpdates`` nor ``answerCallbackQuery``); a group or channel also has its own 20 per minute; a
    429 pauses every request for its ``retry_after`` and is retried up to ``max_retries`` times.
    """

    def __init__(
        self,
        overall_max_rate: float = 30.0,
        overall_time_period: float = 1.0,
        group_max_rate: float = 20.0,
        group_time_period: float = 60.0,
        max_retries: int = 0,
        reserve: int = 5,
    ) -> None:
        self.budget = PriorityBudget(overall_max_rate, overall_time_period, reserve=reserve)
        self._group_rate = (group_max_rate, group_time_period)
        self._groups: dict[int | str, AsyncLimiter] = {}
        self._max_retries = max_retries
        self._not_paused = asyncio.Event()
        self._not_paused.set()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, _Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Lane | None,
    ) -> _Result:
        """Wait for the request's turn in its lane (and group), then send it, retrying 429s."""
        lane = rate_limit_args if rate_limit_args is not None else Lane.INTERACTIVE
        chat_id = data.get("chat_id")
        for attempt in range(self._max_retries + 1):
            try:
                async with self._group_limiter(chat_id) or contextlib.nullcontext():
                    if chat_id is not None:
                        await self.budget.acquire(lane)
                    await self._not_paused.wait()
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self._max_retries:
                    raise
                await self._pause(_seconds(exc) + 0.1, endpoint)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _pause(self, seconds: float, endpoint: str) -> None:
        log.warning("telegram.flood_wait", endpoint=endpoint, seconds=round(seconds, 1))
        self._not_paused.clear()
        try:
            await asyncio.sleep(seconds)
        finally:
            self._not_paused.set()

    def _group_limiter(self, chat_id: object) -> AsyncLimiter | None:
        """Groups and channels (negative ids, @usernames) have their own budget; None for a private chat."""
        rate, period = self._group_rate
        if not rate or not period:
            return None
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)  # type: ignore[call-overload]
        if not ((isinstance(chat_id, int) and chat_id < 0) or isinstance(chat_id, str)):
            return None
        if chat_id not in self._groups and len(self._groups) > 512:
            # Forget groups with a full budget again: they hold no state worth keeping.
            for key in [k for k, limiter in self._groups.items() if limiter.has_capacity(limiter.max_rate)]:
                del self._groups[key]
        limiter = self._groups.get(chat_id)
        if limiter is None:
            limiter = self._groups[chat_id] = AsyncLimiter(rate, period)
        return limiter


def _seconds(exc: RetryAfter) -> float:
    retry_after = exc.retry_after
    return float(retry_after) if isinstance(retry_after, int | float) else retry_after.total_seconds()
