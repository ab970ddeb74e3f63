"""The stall watch names the code that held the event loop, and times full collections."""

from __future__ import annotations

import asyncio
import gc
import time

from benchmarks.stall_watch import StallWatch


def hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # what a long synchronous callback does to every other task


async def test_a_blocking_call_is_reported_with_its_length_and_its_frame() -> None:
    watch = StallWatch(threshold_s=0.1)
    watch.start()
    await asyncio.sleep(0.05)
    hold_the_loop(0.4)
    await asyncio.sleep(0.1)  # the loop ticks again: the stall ends
    await watch.stop()

    (stall,) = watch.stalls
    assert 0.3 <= stall.length_s <= 1.0
    assert any("hold_the_loop" in stack for stack, _ in stall.top())
    assert watch.figures()["stalls_over_threshold"] == 1
    assert "hold_the_loop" in watch.report()


async def test_an_unblocked_loop_has_no_stall_and_full_collections_are_timed() -> None:
    watch = StallWatch(threshold_s=0.1)
    watch.start()
    for _ in range(20):
        await asyncio.sleep(0.005)
    gc.collect()
    await watch.stop()

    assert watch.stalls == []
    figures = watch.figures()
    assert figures["full_collections"] >= 1
    assert figures["gc_tracked_objects"] > 0
