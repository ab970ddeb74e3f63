"""Per-bot update queues with Telegram's offset semantics, and wake-ups for long polls in any event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

from sandbox.telegram.models import JSON

# Telegram leaves these out unless a bot asks for them by name in allowed_updates.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
FIRST_UPDATE_ID = 100_000_001


class UpdateQueue:
    """Updates waiting for one bot; not thread-safe on its own (the emulator's lock guards it)."""

    def __init__(self) -> None:
        self._pending: list[JSON] = []
        self._next_id = FIRST_UPDATE_ID
        self.allowed_updates: list[str] = []

    def push(self, kind: str, payload: JSON) -> JSON | None:
        """Queue ``{"update_id", kind: payload}``; ``None`` when allowed_updates filters it out."""
        if not self.wants(kind):
            return None
        update: JSON = {"update_id": self._next_id, kind: payload}
        self._next_id += 1
        self._pending.append(update)
        return update

    def wants(self, kind: str) -> bool:
        """Whether the bot's allowed_updates setting lets this kind of update through."""
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in OPT_IN_UPDATES

    def confirm(self, offset: int | None) -> None:
        """Forget confirmed updates: ids below ``offset``, or all but the last ``-offset`` ones."""
        if offset is None or offset == 0:
            return
        if offset < 0:
            self._pending = self._pending[offset:]
        else:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]

    def peek(self, limit: int) -> list[JSON]:
        """The oldest ``limit`` pending updates, still unconfirmed."""
        return list(self._pending[:limit])

    def pop_first(self) -> JSON | None:
        """Take the oldest pending update off the queue (webhook delivery succeeded)."""
        return self._pending.pop(0) if self._pending else None

    def first(self) -> JSON | None:
        """The oldest pending update, left in place."""
        return self._pending[0] if self._pending else None

    def clear(self) -> None:
        """Drop every pending update (drop_pending_updates)."""
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._pending)


class Waiters:
    """asyncio events of coroutines waiting for a change; woken thread-safely from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}

    def register(self) -> asyncio.Event:
        """A fresh event in the running loop that the next ``wake_all`` sets."""
        event = asyncio.Event()
        with self._lock:
            self._events[event] = asyncio.get_running_loop()
        return event

    def discard(self, event: asyncio.Event) -> None:
        """Stop tracking an event whose waiter is done."""
        with self._lock:
            self._events.pop(event, None)

    def wake_all(self) -> None:
        """Set every registered event in its own loop (safe from any thread)."""
        with self._lock:
            targets: Iterable[tuple[asyncio.Event, asyncio.AbstractEventLoop]] = list(self._events.items())
        for event, loop in targets:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed: its waiter is gone
                self.discard(event)
