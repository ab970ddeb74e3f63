"""Status-message edits sent in the background: the newest text per message wins, and no caller waits.

The engine tells the user about each change of state by editing the job's status message. Those edits
are cosmetic next to acks and videos, and when Telegram's budget is spent they have to wait; the engine
must not wait with them (a step holds its job while it runs). So an edit is only recorded here and a
few sender tasks send them, oldest message first. An edit that is still waiting when a newer one for
the same message arrives is replaced by it (the user only ever needs the latest state), and at most
one edit per message is in flight, so they land in order.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from telegram import InlineKeyboardMarkup

log = structlog.get_logger(__name__)

MessageKey = tuple[int, int]


@dataclass(frozen=True, slots=True)
class StatusEdit:
    """The text (and keyboard) one status message should show."""

    chat_id: int
    message_id: int
    text: str
    markup: InlineKeyboardMarkup | None = None

    @property
    def key(self) -> MessageKey:
        """Which message it edits."""
        return self.chat_id, self.message_id


class StatusEdits:
    """Edits waiting to be sent, at most ``max_pending`` (the oldest is dropped beyond that).

    ``send`` performs one edit; its errors are logged and the edit is dropped (a status message is
    never worth a retry loop: the next change of state edits it again).
    """

    def __init__(
        self, send: Callable[[StatusEdit], Awaitable[None]], *, senders: int = 4, max_pending: int = 10_000
    ) -> None:
        if senders < 1 or max_pending < 1:
            raise ValueError("senders and max_pending must be at least 1")
        self._send = send
        self._senders = senders
        self._max_pending = max_pending
        self._pending: OrderedDict[MessageKey, StatusEdit] = OrderedDict()
        self._in_flight: set[MessageKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.replaced = 0  # edits superseded by a newer one before they were sent
        self.dropped = 0  # edits dropped because too many were waiting

    @property
    def pending(self) -> int:
        """Edits waiting to be sent (not counting those in flight)."""
        return len(self._pending)

    def put(self, edit: StatusEdit) -> None:
        """Record ``edit`` to be sent soon; returns at once."""
        if edit.key in self._pending:
            self.replaced += 1  # keeps its place in the line: the message has waited that long
        self._pending[edit.key] = edit
        while len(self._pending) > self._max_pending:
            _, oldest = self._pending.popitem(last=False)
            self.dropped += 1
            log.warning("status_edit.dropped", chat_id=oldest.chat_id, message_id=oldest.message_id)
        self._idle.clear()
        if len(self._tasks) < self._senders:
            self._spawn()

    async def drain(self) -> None:
        """Wait until every recorded edit was sent (or dropped)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Stop the senders; edits still waiting are dropped."""
        self._pending.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _next(self) -> StatusEdit | None:
        for key in self._pending:
            if key not in self._in_flight:
                return self._pending.pop(key)
        return None

    async def _run(self) -> None:
        while (edit := self._next()) is not None:
            self._in_flight.add(edit.key)
            try:
                await self._send(edit)
            except Exception as exc:
                log.info("status_edit.failed", chat_id=edit.chat_id, error=type(exc).__name__)
            finally:
                self._in_flight.discard(edit.key)

    def _spawn(self) -> None:
        # A fresh context: the sender outlives the step that spawned it and must not log under its job.
        task = asyncio.get_running_loop().create_task(self._run(), context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._sender_done)

    def _sender_done(self, task: asyncio.Task[None]) -> None:
        # A sender stops when every waiting edit is for a message in flight; the sender holding that
        # message picks the newer edit up when it is done, so the last sender to stop leaves nothing.
        self._tasks.discard(task)
        if self._tasks:
            return
        if self._pending and not task.cancelled():
            self._spawn()
        else:
            self._idle.set()
