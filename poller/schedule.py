"""When to poll: the interval, the optional backoff and the jitter that spreads thousands of jobs."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AttemptTiming:
    """What the job store needs to plan the next poll when it counts an attempt, atomically with the
    count: ``delay = min(interval * backoff ** (attempts - 1), max_delay) * jitter_factor``."""

    interval_s: float
    backoff: float
    max_delay_s: float
    jitter_factor: float  # 1 ± jitter, drawn once per step

    def delay_after(self, attempts: int) -> float:
        """The same formula in Python (the Redis store evaluates it in Lua)."""
        base = min(self.interval_s * (self.backoff ** max(0, attempts - 1)), self.max_delay_s)
        return max(0.0, base * self.jitter_factor)


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """The polling rules of DESIGN.md, as numbers."""

    interval_s: float = 60.0
    max_attempts: int = 15
    backoff: float = 1.0
    jitter: float = 0.1  # +/- this fraction of each delay
    first_poll_s: float = 60.0
    delayed_interval_s: float = 300.0
    delayed_deadline_s: float = 3600.0
    submit_attempts: int = 5
    delivery_attempts: int = 5
    max_retry_delay_s: float = 900.0

    def delay_after(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the poll that follows ``attempts`` polls.

        With backoff 1.0 every gap is the interval; above 1.0 gaps grow geometrically. Jitter keeps
        jobs submitted together from polling the provider in lockstep.
        """
        base = self.interval_s * (self.backoff ** max(0, attempts - 1))
        return self._jittered(min(base, self.max_retry_delay_s), rng)

    def attempt_timing(self, rng: random.Random | None = None) -> AttemptTiming:
        """The numbers :meth:`delay_after` uses, with this step's jitter drawn, for the job store."""
        factor = 1.0 + (rng or random).uniform(-self.jitter, self.jitter) if self.jitter > 0 else 1.0
        return AttemptTiming(self.interval_s, self.backoff, self.max_retry_delay_s, factor)

    def first_delay(self, rng: random.Random | None = None) -> float:
        """Seconds from submission to the first poll."""
        return self._jittered(self.first_poll_s, rng)

    def retry_delay(self, failures: int, hint_s: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds before retrying a failed submit or delivery (the provider's Retry-After wins when longer)."""
        base = min(self.interval_s * (2 ** max(0, failures - 1)) / 4, self.max_retry_delay_s)
        return max(self._jittered(base, rng), hint_s or 0.0)

    def _jittered(self, delay: float, rng: random.Random | None) -> float:
        if self.jitter <= 0 or delay <= 0:
            return delay
        spread = delay * self.jitter
        return max(0.0, delay + (rng or random).uniform(-spread, spread))
