"""The shared send budget: lanes served in priority order, a reserve the lower lanes leave, PTB integration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram.ext import ExtBot

from bot.rate_limit import Lane, PriorityBudget, PriorityRateLimiter
from tests.fixtures.telegram import TelegramStandIn

# So slow that no token comes back while a test runs: only the burst is there to spend.
NO_REFILL = {"rate": 1.0, "period": 10_000.0}


async def settle() -> None:
    """Let every task that can run, run."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_waiting_acks_are_served_before_status_edits_that_waited_longer() -> None:
    budget = PriorityBudget(rate=50, burst=1, reserve=0)
    await budget.acquire()  # the burst is spent: everything below waits for the refill
    served: list[str] = []

    async def request(name: str, lane: Lane) -> None:
        await budget.acquire(lane)
        served.append(name)

    edits = [asyncio.create_task(request(f"edit{i}", Lane.STATUS)) for i in range(2)]
    await settle()
    acks = [asyncio.create_task(request(f"ack{i}", Lane.INTERACTIVE)) for i in range(2)]
    delivery = asyncio.create_task(request("video", Lane.DELIVERY))
    await asyncio.gather(*edits, *acks, delivery)

    assert served == ["ack0", "ack1", "video", "edit0", "edit1"]


async def test_status_edits_leave_the_reserve_to_acks() -> None:
    budget = PriorityBudget(**NO_REFILL, burst=3, reserve=2)

    await budget.acquire(Lane.STATUS)  # 3 tokens: one may go to an edit, two stay
    second_edit = asyncio.create_task(budget.acquire(Lane.STATUS))
    await settle()
    await budget.acquire(Lane.INTERACTIVE)
    await budget.acquire(Lane.INTERACTIVE)

    assert not second_edit.done()
    assert budget.waiting(Lane.STATUS) == 1
    second_edit.cancel()


async def test_an_ack_does_not_wait_for_edits_queued_before_it_while_tokens_are_left() -> None:
    budget = PriorityBudget(**NO_REFILL, burst=2, reserve=1)
    await budget.acquire(Lane.STATUS)
    waiting_edit = asyncio.create_task(budget.acquire(Lane.STATUS))
    await settle()

    await budget.acquire(Lane.INTERACTIVE)  # would hang if it queued behind the edit

    assert not waiting_edit.done()
    waiting_edit.cancel()


async def test_a_cancelled_waiter_does_not_hold_up_its_lane() -> None:
    budget = PriorityBudget(rate=50, burst=1, reserve=0)
    await budget.acquire()
    first = asyncio.create_task(budget.acquire(Lane.INTERACTIVE))
    second = asyncio.create_task(budget.acquire(Lane.INTERACTIVE))
    await settle()

    first.cancel()
    await second

    assert first.cancelled()
    assert budget.waiting(Lane.INTERACTIVE) == 0


@pytest.mark.parametrize(("burst", "reserve"), [(0.5, 0), (3, 3), (3, -1)])
def test_refuses_a_reserve_that_leaves_nothing_to_spend(burst: float, reserve: int) -> None:
    with pytest.raises(ValueError, match="burst"):
        PriorityBudget(burst=burst, reserve=reserve)


# --------------------------------------------------------------------------- with python-telegram-bot


@pytest.fixture
async def bot(telegram: TelegramStandIn) -> AsyncIterator[ExtBot[Lane]]:
    """A real bot on the emulator whose budget is 10 messages (a 10/s bucket) and 1 in reserve."""
    limiter = PriorityRateLimiter(overall_max_rate=10, reserve=1, max_retries=1)
    async with ExtBot(telegram.token, base_url=telegram.base_url, rate_limiter=limiter) as ext_bot:
        yield ext_bot


async def test_bot_sends_acks_before_status_edits_once_the_budget_is_spent(
    bot: ExtBot[Lane], telegram: TelegramStandIn
) -> None:
    user = 7001
    telegram.emulator.add_user(user)
    status = [await bot.send_message(user, f"status {i}") for i in range(3)]
    for i in range(7):  # the rest of the burst
        await bot.send_message(user, f"filler {i}")

    edits = [
        asyncio.create_task(bot.edit_message_text("being generated", chat_id=user, message_id=m.message_id,
                                                  rate_limit_args=Lane.STATUS))
        for m in status
    ]  # fmt: skip
    await settle()
    acks = [asyncio.create_task(bot.send_message(user, f"Video generating… {i}")) for i in range(3)]
    await asyncio.gather(*edits, *acks)

    after_burst = [c.method for c in telegram.emulator.calls()[-6:]]
    assert after_burst == ["sendMessage"] * 3 + ["editMessageText"] * 3


async def test_bot_retries_after_a_flood_wait(bot: ExtBot[Lane], telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(7002)
    telegram.emulator.inject_fault("sendMessage", "flood", retry_after=1)

    message = await bot.send_message(7002, "hello")

    assert message.text == "hello"
    assert [c.ok for c in telegram.emulator.calls("sendMessage")] == [False, True]


async def test_requests_to_no_chat_do_not_spend_the_budget(telegram: TelegramStandIn) -> None:
    limiter = PriorityRateLimiter(overall_max_rate=1, overall_time_period=10_000, reserve=0)  # one token, ever
    async with ExtBot(telegram.token, base_url=telegram.base_url, rate_limiter=limiter) as one_message_bot:
        await one_message_bot.get_me()
        await one_message_bot.get_updates(timeout=0)

        last_token = asyncio.create_task(limiter.budget.acquire())
        await settle()

        assert last_token.done()
