"""The engine's per-poll metrics, counted in plain Python and exported at scrape time.

Every poll reports its outcome, its call's time and how late its step started: thousands of times a second at scale.
prometheus-client's own Counter and Histogram take a lock per increment (two or three per observation), which cost
about 3 % of the engine's CPU per poll (docs/performance.md). These are counted here in dicts and lists instead (the
event loop is the only writer, so nothing needs a lock) and handed to the registry by a custom collector, the
library's documented way to export values kept elsewhere.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector


class _Histogram:
    """Bucket counts (not cumulative), a sum and a count; ``bounds`` are the buckets' upper bounds."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last: above every bound (+Inf)
        self.total = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bucket (Prometheus' buckets are "less or equal").
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        """The buckets as Prometheus exposes them: ``(le, observations up to it)``, ending with ``+Inf``."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*map(_le, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, float(running)))
        return out


class HotPathStats:
    """Polls by outcome, provider call times and step lateness, as the listener counts them."""

    def __init__(self, request_bounds: Sequence[float], lateness_bounds: Sequence[float]) -> None:
        self._request_bounds = request_bounds
        self.polls: dict[tuple[str, str], int] = {}
        self.requests: dict[tuple[str, str], _Histogram] = {}
        self.lateness = _Histogram(lateness_bounds)

    def polled(self, provider: str, outcome: str, seconds: float) -> None:
        """One status poll: its outcome and its call's time."""
        key = (provider, outcome)
        self.polls[key] = self.polls.get(key, 0) + 1
        self.request(provider, "poll", seconds)

    def request(self, provider: str, operation: str, seconds: float) -> None:
        """One provider call's time."""
        key = (provider, operation)
        histogram = self.requests.get(key)
        if histogram is None:
            histogram = self.requests[key] = _Histogram(self._request_bounds)
        histogram.observe(seconds)


class HotPathCollector(Collector):
    """Exports :class:`HotPathStats` as ``reelay_polls``, ``reelay_provider_request_seconds`` and
    ``reelay_poll_lateness_seconds``."""

    def __init__(self, stats: HotPathStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        """The three families, as they stand now."""
        stats = self._stats
        polls = CounterMetricFamily(
            "reelay_polls", "Status polls, by what they learned.", labels=["provider", "outcome"]
        )
        for (provider, outcome), count in sorted(stats.polls.items()):
            polls.add_metric([provider, outcome], count)
        yield polls
        requests = HistogramMetricFamily(
            "reelay_provider_request_seconds", "How long calls to a provider took.", labels=["provider", "operation"]
        )
        for (provider, operation), histogram in sorted(stats.requests.items()):
            requests.add_metric([provider, operation], histogram.cumulative(), histogram.total)
        yield requests
        lateness = HistogramMetricFamily(
            "reelay_poll_lateness_seconds", "How late a job's step started against the time planned for it."
        )
        lateness.add_metric([], stats.lateness.cumulative(), stats.lateness.total)
        yield lateness

    def describe(self) -> Iterator[Metric]:
        """The same families (their names are all the registry needs to refuse a duplicate)."""
        return self.collect()


def _le(bound: float) -> str:
    return repr(float(bound))
