"""The provider balance is read at most once per refresh period, and shown as unknown while it fails."""

from __future__ import annotations

import asyncio

import pytest

from console.balance import CachedBalance


class Reads:
    def __init__(self, *answers: float | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self) -> float:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        await asyncio.sleep(0.01)
        return answer


async def test_a_read_is_kept_for_the_refresh_period_and_shared_by_concurrent_callers() -> None:
    reads = Reads(1000.0)
    balance = CachedBalance(reads, refresh_s=60)

    answers = await asyncio.gather(*(balance() for _ in range(5)))

    assert answers == [1000.0] * 5
    assert reads.calls == 1


async def test_a_failed_read_is_unknown_until_the_next_period() -> None:
    reads = Reads(RuntimeError("KIE is down"), 990.0)
    balance = CachedBalance(reads, refresh_s=0.05)

    first, again = await balance(), await balance()
    await asyncio.sleep(0.06)
    later = await balance()

    assert (first, again, later) == (None, None, 990.0)
    assert reads.calls == 2


async def test_a_slow_provider_holds_a_page_for_the_timeout_at_most() -> None:
    async def never() -> float:
        await asyncio.sleep(60)
        return 0.0

    balance = CachedBalance(never, refresh_s=60, timeout_s=0.05)

    assert await asyncio.wait_for(balance(), timeout=1) is None


def test_a_refresh_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        CachedBalance(Reads(), refresh_s=0)
