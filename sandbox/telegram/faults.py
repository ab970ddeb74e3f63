"""Injected failures (flood control, server errors) and an optional per-chat flood-control simulation."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sandbox.telegram.errors import BotApiError, too_many_requests

FaultKind = Literal["flood", "server_error"]


@dataclass
class _Fault:
    method: str  # lower-cased method name, or "*" for any
    kind: FaultKind
    remaining: int
    retry_after: int
    status: int


class Faults:
    """Failures armed for the next calls of a method, consumed in the order they were armed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Fault] = []

    def add(self, method: str, kind: FaultKind, *, times: int, retry_after: int, status: int) -> None:
        """Arm ``times`` failures of ``kind`` for ``method`` (``"*"`` matches every method)."""
        if kind not in ("flood", "server_error"):
            raise ValueError(f"unknown fault kind {kind!r}")
        if kind == "server_error" and status not in (500, 502, 503, 504):
            raise ValueError(f"server_error status must be 500, 502, 503 or 504, not {status}")
        with self._lock:
            self._armed.append(_Fault(method.lower(), kind, times, retry_after, status))

    def take(self, method: str) -> BotApiError | None:
        """The error for this call if a fault is armed for it, consuming one use."""
        with self._lock:
            for fault in self._armed:
                if fault.method in ("*", method.lower()) and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._armed.remove(fault)
                    return _error(fault)
        return None

    def clear(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._armed.clear()


def _error(fault: _Fault) -> BotApiError:
    if fault.kind == "flood":
        return too_many_requests(fault.retry_after)
    phrases = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
    return BotApiError(fault.status, phrases[fault.status])


class FloodControl:
    """At most ``max_messages`` sends to one chat per ``per_seconds``; beyond that 429 like Telegram."""

    def __init__(self, max_messages: int, per_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_messages < 1 or per_seconds <= 0:
            raise ValueError("flood control needs max_messages >= 1 and per_seconds > 0")
        self.max_messages = max_messages
        self.per_seconds = per_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: dict[int, deque[float]] = {}

    def check(self, chat_id: int) -> None:
        """Count one send to ``chat_id``, or raise 429 with the seconds until the window frees up."""
        now = self._clock()
        with self._lock:
            window = self._sent.setdefault(chat_id, deque())
            while window and window[0] <= now - self.per_seconds:
                window.popleft()
            if len(window) >= self.max_messages:
                raise too_many_requests(max(1, math.ceil(window[0] + self.per_seconds - now)))
            window.append(now)
