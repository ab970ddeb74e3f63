"""The provider account's balance, read at most once per refresh period (pages must not call KIE on every view)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


class CachedBalance:
    """Calls ``read`` at most once per ``refresh_s`` and keeps what it answered; None while it fails.

    A failed read is also kept for ``refresh_s``: a provider that is down is not asked again on every page view.
    Concurrent callers share one read.
    """

    def __init__(self, read: Callable[[], Awaitable[float]], refresh_s: float, *, timeout_s: float = 5.0) -> None:
        if refresh_s <= 0 or timeout_s <= 0:
            raise ValueError("refresh_s and timeout_s must be positive")
        self._read = read
        self._refresh_s = refresh_s
        self._timeout_s = timeout_s  # a page waits this long at most for a slow provider
        self._value: float | None = None
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> float | None:
        """The balance as last read (reading again when it is older than ``refresh_s``), or None."""
        async with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= self._refresh_s:
                self._read_at = now
                try:
                    async with asyncio.timeout(self._timeout_s):
                        self._value = await self._read()
                except Exception as exc:  # shown as unknown; the reason goes to the log
                    log.warning("console.balance_unavailable", error=type(exc).__name__, detail=str(exc)[:200])
                    self._value = None
            return self._value
