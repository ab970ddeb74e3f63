"""What the console is given by the composition root: the core's ports for what it changes, its own small read
protocols (``console.ports``) for what it shows, and its limits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from console.ports import (
    AnalyticsReads,
    BalanceReader,
    CreditStates,
    JobListing,
    JobReads,
    ProcessDirectory,
    SignInAttempts,
    TaskLookup,
)
from poller.finish import JobFinisher
from poller.ports import EventBus, JobStore, ProviderLookup, SessionStore

PAGE_SIZE = 50
MAX_SCAN = 2000  # job ids one list or search request may look at
LIVE_INTERVAL_S = 1.0
MAX_LIVE_STREAMS = 16  # open live feeds per process; more are refused (503) and the browser retries


def _never() -> bool:
    return False


@dataclass(frozen=True)
class ConsoleDeps:
    """Everything the console's pages, live feed and actions use."""

    token: str  # http.console_token (never logged)
    jobs: JobStore  # the actions' compare-and-set transitions
    reads: JobReads
    listing: JobListing
    sessions: SessionStore
    finisher: JobFinisher  # cancel's endings and refunds, as the engine does them
    events: EventBus  # hands a re-run delivery to a poller at once
    tasks: TaskLookup
    analytics: AnalyticsReads
    processes: ProcessDirectory
    balance: BalanceReader
    sign_in: SignInAttempts
    credits: CreditStates | None = None  # None when credits are off
    providers: Sequence[str] = ()  # provider names, for the search by task id
    adapters: ProviderLookup | None = None  # so a cancel stops the task at its provider (fal)
    models: Sequence[str] = ()  # for the model filter
    secure_cookie: bool = False  # http.public_url is https
    closing: Callable[[], bool] = _never  # the process is shutting down: live feeds end
    page_size: int = PAGE_SIZE
    max_scan: int = MAX_SCAN
    live_interval_s: float = LIVE_INTERVAL_S
    max_live_streams: int = MAX_LIVE_STREAMS
