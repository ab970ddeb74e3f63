"""The process runs its main coroutine on the configured event loop."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from bot.event_loop import EventLoopName, run


async def loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


@pytest.mark.parametrize(("name", "expected"), [("uvloop", uvloop.Loop), ("asyncio", asyncio.SelectorEventLoop)])
def test_main_runs_on_the_named_loop_and_returns_its_result(
    name: EventLoopName, expected: type[asyncio.AbstractEventLoop]
) -> None:
    assert issubclass(run(loop_type(), name), expected)


def test_the_loop_is_closed_afterwards() -> None:
    async def leave_a_task() -> asyncio.AbstractEventLoop:
        asyncio.get_running_loop().create_task(asyncio.sleep(3600))  # cancelled by the runner on exit
        return asyncio.get_running_loop()

    loop = run(leave_a_task(), "uvloop")
    assert loop.is_closed()
