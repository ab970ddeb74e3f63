"""Emulator change events handed across threads into the asyncio loop that streams them to a browser."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Final

import structlog

from sandbox.telegram import Event, TelegramEmulator

log = structlog.get_logger(__name__)

# A page that stops reading (a frozen tab) must not grow memory without bound: past this many waiting
# events its stream ends, and the browser's EventSource reconnects and starts again from a snapshot.
MAX_BACKLOG = 1000


class _End:
    """Marks the end of a subscription (feed closed, or the reader fell too far behind)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


_CLOSED: Final = _End("closed")
_OVERFLOW: Final = _End("overflow")


class Subscription:
    """Events for one reader, in order, in the reader's event loop; iterate it with ``async for``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, accept: Callable[[Event], bool], max_backlog: int) -> None:
        self._loop = loop
        self._accept = accept
        self._queue: asyncio.Queue[Event | _End] = asyncio.Queue()
        self._max_backlog = max_backlog
        self._ended = False
        self.end_reason: str | None = None
        self.unsubscribe: Callable[[], None] = lambda: None

    def offer(self, event: Event) -> None:
        """Called in whichever thread changed the emulator: hand the event to the reader's loop."""
        if self._accept(event):
            self._hand_off(event)

    def end(self, marker: _End = _CLOSED) -> None:
        """Stop the reader after what it has already received (from any thread)."""
        self._hand_off(marker)

    def _hand_off(self, item: Event | _End) -> None:
        try:
            self._loop.call_soon_threadsafe(self._put, item)
        except RuntimeError:  # the reader's loop is closed: nobody will read again
            self.unsubscribe()

    def _put(self, item: Event | _End) -> None:
        if self._ended:
            return
        if isinstance(item, _End):
            self._ended = True
        elif self._queue.qsize() >= self._max_backlog:
            item, self._ended = _OVERFLOW, True
        self._queue.put_nowait(item)

    async def get(self, timeout: float) -> Event | None:
        """The next event, or None when none came within ``timeout``; StopAsyncIteration once ended."""
        try:
            async with asyncio.timeout(timeout):
                item = await self._queue.get()
        except TimeoutError:
            return None
        if isinstance(item, _End):
            self.end_reason = item.reason
            raise StopAsyncIteration
        return item


class ChatFeed:
    """Subscribes readers to the emulator's change events for a set of chats; ``close`` ends every reader.

    Subscriber callbacks run in the thread that changed the emulator (its server thread, a test thread,
    the web chat's own loop), so each reader gets its events through ``call_soon_threadsafe``.
    """

    def __init__(self, emulator: TelegramEmulator, chat_ids: frozenset[int], max_backlog: int = MAX_BACKLOG) -> None:
        self._emulator = emulator
        self._chat_ids = chat_ids
        self._max_backlog = max_backlog
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called (new readers are refused)."""
        return self._closed

    @property
    def readers(self) -> int:
        """How many readers are subscribed right now."""
        with self._lock:
            return len(self._subscriptions)

    def accepts(self, event: Event) -> bool:
        """Whether the page cares: a change in one of its chats, or the whole world reset."""
        return event.kind == "reset" or event.chat_id in self._chat_ids

    def subscribe(self) -> Subscription:
        """A new reader in the running loop; events from now on are queued for it."""
        subscription = Subscription(asyncio.get_running_loop(), self.accepts, self._max_backlog)
        with self._lock:
            if self._closed:
                raise RuntimeError("the chat feed is closed")
            self._subscriptions.add(subscription)
        unsubscribe_emulator = self._emulator.subscribe(subscription.offer)

        def unsubscribe() -> None:
            unsubscribe_emulator()
            with self._lock:
                self._subscriptions.discard(subscription)

        subscription.unsubscribe = unsubscribe
        return subscription

    def close(self) -> None:
        """End every reader (so a server can shut down without waiting on open streams)."""
        with self._lock:
            self._closed = True
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.end()
        log.debug("webchat.feed_closed", readers=len(subscriptions))
