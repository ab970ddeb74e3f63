"""Running the process's main coroutine on the configured event loop.

uvloop (libuv, in C) is the default: the polling engine spends a sixth of its CPU in the event loop
itself (socket reads and writes, timers, task switches), and uvloop cut the engine's CPU per poll by
~17 % at 3,000 polls/s (docs/performance.md). ``asyncio`` keeps the standard library's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")

EventLoopName = Literal["uvloop", "asyncio"]


def loop_factory(name: EventLoopName) -> Callable[[], asyncio.AbstractEventLoop]:
    """A constructor of the named event loop."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T], event_loop: EventLoopName) -> T:
    """``asyncio.run(main)`` on the named loop."""
    with asyncio.Runner(loop_factory=loop_factory(event_loop)) as runner:
        return runner.run(main)
