"""Change notification: subscriber callbacks, and blocking/async waits for a condition on the world."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import structlog

from sandbox.telegram.models import Event

log = structlog.get_logger(__name__)
T = TypeVar("T")
Subscriber = Callable[[Event], None]
# Re-check predicates at least this often, in case they read something that does not publish events.
_RECHECK_S = 0.05


class EventHub:
    """Fans change events out to subscribers and wakes threads blocked in ``wait_for``."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = 0  # bumped on every change, so a wait never misses one
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` on every change, in the thread that made it; returns an unsubscribe."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, events: Iterable[Event]) -> None:
        """Deliver events to subscribers (a failing subscriber is logged, not propagated), then wake waiters."""
        with self._lock:
            subscribers = list(self._subscribers)
        for event in events:
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:
                    log.exception("telegram emulator subscriber failed", event_kind=event.kind)
        self.changed()

    def changed(self) -> None:
        """Wake threads blocked in ``wait_for`` so they re-check their predicate."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], T | None], timeout: float, context: Callable[[str], str]) -> T:
        """Block until ``predicate()`` is truthy and return it; AssertionError with ``context`` on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                seen = self._generation
            # The predicate runs without our lock held: it takes the emulator's lock itself.
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(context(f"timed out after {timeout:g}s"))
            with self._changed:
                if self._generation == seen:
                    self._changed.wait(min(remaining, _RECHECK_S))

    async def wait_for_async(
        self,
        predicate: Callable[[], T | None],
        timeout: float,
        context: Callable[[str], str],
    ) -> T:
        """``wait_for`` for coroutines: polls with ``asyncio.sleep`` so the caller's loop keeps running."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(context(f"timed out after {timeout:g}s"))
            await asyncio.sleep(0.01)
