"""Catch event-loop stalls in the act: which code held the loop when it stopped ticking.

A task in the loop stamps the time every ``tick_s``; a thread checks the stamp and, when it is older than
``threshold_s``, samples the main thread's stack (``sys._current_frames``) every few ms until the loop
ticks again. Each stall is reported as its length and its most sampled frames (aggregated sampling such as
``py-spy record`` drowns a few half-second stalls among minutes of ordinary work). The thread needs the
GIL to sample, so a stall inside one long C call shows up as the Python frame that made it.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stall:
    """One stall: how long the loop did not tick and the stacks seen meanwhile."""

    started: float
    length_s: float = 0.0
    stacks: Counter[str] = field(default_factory=Counter)

    def top(self, n: int = 3) -> list[tuple[str, int]]:
        return self.stacks.most_common(n)


class StallWatch:
    """Run ``start()`` inside the loop; read ``stalls`` after ``stop()``."""

    def __init__(self, threshold_s: float = 0.15, tick_s: float = 0.01, sample_s: float = 0.005) -> None:
        self.threshold_s = threshold_s
        self.tick_s = tick_s
        self.sample_s = sample_s
        self.stalls: list[Stall] = []
        self._last_tick = time.monotonic()
        self._main_id = threading.get_ident()
        self._running = False
        self._ticker: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self.gc_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._gc_started = 0.0
        self.tracked: Counter[str] = Counter()

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses[info["generation"]].append(time.perf_counter() - self._gc_started)

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._main_id = threading.get_ident()
        self._running = True
        self._last_tick = time.monotonic()
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        self._thread = threading.Thread(target=self._watch, name="stall-watch", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._running = False
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        # What a full collection has to traverse, by type: the cost of a stall grows with it.
        self.tracked = Counter(type(obj).__qualname__ for obj in gc.get_objects())
        if self._ticker is not None:
            self._ticker.cancel()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    async def _tick(self) -> None:
        while True:
            self._last_tick = time.monotonic()
            await asyncio.sleep(self.tick_s)

    def _watch(self) -> None:
        current: Stall | None = None
        while self._running:
            time.sleep(self.sample_s)
            late = time.monotonic() - self._last_tick
            if late < self.threshold_s:
                if current is not None:
                    self.stalls.append(current)
                    current = None
                continue
            if current is None:
                current = Stall(started=self._last_tick)
            current.length_s = late
            frame = sys._current_frames().get(self._main_id)
            if frame is not None:
                current.stacks[_render(frame)] += 1

    def figures(self) -> dict[str, float | int]:
        """The watch's findings as numbers, for a benchmark's JSON row."""
        full = self.gc_pauses[2]
        return {
            "stalls_over_threshold": len(self.stalls),
            "longest_stall_ms": round(max((s.length_s for s in self.stalls), default=0.0) * 1000),
            "full_collections": len(full),
            "longest_full_collection_ms": round(max(full, default=0.0) * 1000),
            "gc_tracked_objects": sum(self.tracked.values()),
        }

    def report(self, limit: int = 5) -> str:
        """Garbage collections by generation, then the longest stalls, each with its most sampled stacks."""
        lines = [
            f"gc generation {gen}: {len(pauses)} collections, longest {max(pauses, default=0) * 1000:.0f} ms, "
            f"{sum(pauses) * 1000:.0f} ms in all"
            for gen, pauses in self.gc_pauses.items()
        ]
        top = ", ".join(f"{name} {count}" for name, count in self.tracked.most_common(12))
        lines.append(f"objects tracked by gc: {sum(self.tracked.values())} ({top})")
        if not self.stalls:
            return "\n".join([*lines, f"no event-loop stall over {self.threshold_s * 1000:.0f} ms"])
        lines.append(f"{len(self.stalls)} stalls over {self.threshold_s * 1000:.0f} ms; the longest:")
        for stall in sorted(self.stalls, key=lambda s: s.length_s, reverse=True)[:limit]:
            lines.append(f"--- {stall.length_s * 1000:.0f} ms, {sum(stall.stacks.values())} samples")
            for stack, count in stall.top():
                lines.append(f"  [{count} samples]\n{stack}")
        return "\n".join(lines)


def _render(frame: object) -> str:
    """The innermost dozen frames, outermost first, one line each."""
    summary = traceback.extract_stack(frame)[-12:]  # type: ignore[arg-type]
    return "\n".join(f"    {f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in summary)
