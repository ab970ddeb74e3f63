"""Poll timing: constant interval, geometric backoff, bounded jitter, Retry-After respected."""

from __future__ import annotations

import random

import pytest

from poller.schedule import PollPolicy


def test_constant_interval_without_backoff_or_jitter() -> None:
    policy = PollPolicy(interval_s=60, backoff=1.0, jitter=0)

    assert [policy.delay_after(n) for n in range(1, 6)] == [60.0] * 5


def test_backoff_grows_gaps_geometrically_up_to_the_cap() -> None:
    policy = PollPolicy(interval_s=60, backoff=2.0, jitter=0, max_retry_delay_s=300)

    assert [policy.delay_after(n) for n in range(1, 6)] == [60.0, 120.0, 240.0, 300.0, 300.0]


def test_jitter_stays_within_its_fraction_and_actually_spreads() -> None:
    policy = PollPolicy(interval_s=60, jitter=0.1)
    rng = random.Random(7)

    delays = [policy.delay_after(1, rng) for _ in range(1000)]

    assert min(delays) >= 54.0
    assert max(delays) <= 66.0
    assert len({round(d, 3) for d in delays}) > 900


@pytest.mark.parametrize(("failures", "hint", "expected"), [(1, None, 15.0), (2, None, 30.0), (1, 120.0, 120.0)])
def test_retry_delay_backs_off_and_honours_retry_after(failures: int, hint: float | None, expected: float) -> None:
    policy = PollPolicy(interval_s=60, jitter=0)

    assert policy.retry_delay(failures, hint) == expected


@pytest.mark.parametrize("attempts", [1, 2, 5, 12])
def test_attempt_timing_plans_exactly_what_delay_after_would(attempts: int) -> None:
    policy = PollPolicy(interval_s=30.0, backoff=1.7, jitter=0.2, max_retry_delay_s=600.0)
    timing = policy.attempt_timing(random.Random(7))
    assert timing.delay_after(attempts) == pytest.approx(policy.delay_after(attempts, random.Random(7)))


def test_attempt_timing_without_jitter_has_factor_one() -> None:
    assert PollPolicy(jitter=0.0).attempt_timing().jitter_factor == 1.0
