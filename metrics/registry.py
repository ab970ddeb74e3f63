"""Every Prometheus metric Reelay exports, on one registry per process (``prometheus-client``).

Names carry their units, as Prometheus asks; the README's "Metrics" table documents each. A registry of its own
(not the library's global one) lets several Reelays share a process, as the tests and the sandbox do.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from metrics.hot_path import HotPathCollector, HotPathStats

# A ``…_created`` timestamp beside every counter and histogram doubles the series for nothing a dashboard uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Seconds: a poll answers in tens of milliseconds, a submit in a second or two, a download in seconds to minutes.
REQUEST_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Seconds: a video takes one to ten minutes to generate; a timeout ends it after an hour or more.
JOB_BUCKETS_S = (15.0, 30.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 450.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0)
ATTEMPT_BUCKETS = (1, 2, 3, 5, 8, 10, 15, 20, 30, 50, 100)
LATENESS_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The metric objects, created on their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.build_info = Gauge("reelay_build_info", "The running version (always 1).", ["version"], registry=r)
        self.jobs_created = Counter(
            "reelay_jobs_created", "Jobs created by this process.", ["model", "source"], registry=r
        )
        self.jobs_finished = Counter(
            "reelay_jobs_finished", "Jobs that ended in this process.", ["model", "status", "error"], registry=r
        )
        self.generation_seconds = Histogram(
            "reelay_job_generation_seconds",
            "From the submit to the provider's final answer.",
            ["model"],
            buckets=JOB_BUCKETS_S,
            registry=r,
        )
        self.total_seconds = Histogram(
            "reelay_job_total_seconds",
            "From the user's prompt to the end (the video in the chat, or the failure told).",
            ["model", "status"],
            buckets=JOB_BUCKETS_S,
            registry=r,
        )
        self.poll_attempts = Histogram(
            "reelay_job_poll_attempts",
            "Status polls a job needed, observed when it ends.",
            ["model", "status"],
            buckets=ATTEMPT_BUCKETS,
            registry=r,
        )
        # reelay_polls, reelay_provider_request_seconds and reelay_poll_lateness_seconds: counted per poll, so kept
        # in plain Python and exported by a collector of their own (metrics/hot_path.py).
        self.hot = HotPathStats(REQUEST_BUCKETS_S, LATENESS_BUCKETS_S)
        r.register(HotPathCollector(self.hot))
        self.provider_errors = Counter(
            "reelay_provider_errors", "Normalized errors of provider calls.", ["provider", "error"], registry=r
        )
        self.jobs_active = Gauge(
            "reelay_jobs_active",
            "Jobs in each non-terminal state, deployment-wide (from Redis).",
            ["status"],
            registry=r,
        )
        self.jobs_held = Gauge("reelay_jobs_held", "Jobs this process's engine holds.", registry=r)
        self.telegram_requests = Counter(
            "reelay_telegram_requests", "Bot API calls, by method and outcome.", ["method", "outcome"], registry=r
        )
        self.delivery_bytes = Counter(
            "reelay_delivery_bytes", "Bytes of finished videos written to the video store.", ["store"], registry=r
        )
        self.credits = Counter("reelay_credits", "Credits moved, by operation.", ["operation"], registry=r)
        self.provider_cost_credits = Counter(
            "reelay_provider_cost_credits",
            "What the provider charged for delivered videos (its own report, else the configured price).",
            ["provider", "model"],
            registry=r,
        )
        self.provider_balance = Gauge(
            "reelay_provider_balance",
            "The provider account's balance, as the provider reports it.",
            ["provider"],
            registry=r,
        )


def metric_names(metrics: Metrics) -> set[str]:
    """The name of every series the registry exports, labelled or not yet: ``reelay_polls_total``,
    ``reelay_job_total_seconds_bucket``, ``reelay_jobs_active``…"""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    names: set[str] = set()
    for family in metrics.registry.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names
