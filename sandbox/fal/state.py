"""The fal simulator's state: requests, every call clients made, the webhooks sent. Thread-safe: the server runs
in its own thread while tests inspect and steer it from theirs."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.fal.scenario import FalScenario, apply_prompt_markers
from sandbox.fal.signing import WebhookSigner

Phase = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]


@dataclass
class SimRequest:
    """One simulated queue request."""

    id: str
    endpoint: str  # the model endpoint it was submitted to (``fal-ai/veo3/fast``)
    body: dict[str, Any]
    scenario: FalScenario
    webhook_url: str | None = None
    created_monotonic: float = field(default_factory=time.monotonic)
    status_polls: int = 0  # status answers given (404s included)
    cancelled: bool = False
    webhook_sent: bool = False

    @property
    def app(self) -> str:
        """``owner/app``: the first two parts of the endpoint, the app-only path fal's URLs use."""
        return "/".join(self.endpoint.split("/")[:2])

    def phase(self) -> Phase:
        """Where the request is now (without counting a poll)."""
        if self.cancelled:
            return "COMPLETED"
        if self.scenario.completion_s is not None:
            elapsed = time.monotonic() - self.created_monotonic
            return "COMPLETED" if elapsed >= self.scenario.completion_s else "IN_PROGRESS"
        seen = self.status_polls - min(self.status_polls, self.scenario.lost_polls)
        if seen < self.scenario.queue:
            return "IN_QUEUE"
        return "IN_PROGRESS" if seen < self.scenario.queue + self.scenario.running else "COMPLETED"

    def queue_position(self) -> int:
        """The place in the queue (0: next) while queued."""
        seen = self.status_polls - min(self.status_polls, self.scenario.lost_polls)
        return max(0, self.scenario.queue - 1 - seen)


@dataclass(frozen=True)
class StatusStep:
    """What one status poll answers: 404 (``lost``), or the phase (and place in the queue) before it was counted."""

    request: SimRequest
    lost: bool
    phase: Phase
    queue_position: int


@dataclass(frozen=True)
class FalCall:
    """One HTTP call the simulator answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorized: bool


@dataclass(frozen=True)
class WebhookRecord:
    """One webhook the simulator POSTed (or tried to)."""

    request_id: str
    url: str
    body: dict[str, Any]
    status_code: int | None
    error: str | None = None


class FalSimulator:
    """The state behind the simulated fal queue API, plus the knobs tests and sandbox users turn.

    ``default_scenario`` applies to every request (prompt markers override it); ``queue_scenario`` adds ones for
    the next submits, first in first out. ``public_url`` is the base of the URLs handed out (default: the URL the
    request came in on). ``signer`` signs the webhooks; its key is served at ``/.well-known/jwks.json``."""

    def __init__(self, api_key: str = "test-fal-key", *, public_url: str | None = None) -> None:
        self.api_key = api_key
        self.public_url = public_url
        self.signer = WebhookSigner()
        self._lock = threading.Lock()
        self.default_scenario = FalScenario()
        self._queued: deque[FalScenario] = deque()
        self._requests: dict[str, SimRequest] = {}
        self.calls: list[FalCall] = []
        self.webhooks: list[WebhookRecord] = []

    def reset(self) -> None:
        """Forget every request and call (the signing key stays: clients may have cached it)."""
        with self._lock:
            self.default_scenario = FalScenario()
            self._queued.clear()
            self._requests.clear()
            self.calls.clear()
            self.webhooks.clear()

    def queue_scenario(self, scenario: FalScenario) -> None:
        """Use ``scenario`` for the next submit (before the prompt's markers)."""
        with self._lock:
            self._queued.append(scenario.copy())

    def record_call(self, call: FalCall) -> None:
        """Keep what a client sent."""
        with self._lock:
            self.calls.append(call)

    def record_webhook(self, record: WebhookRecord) -> None:
        """Keep a webhook's outcome."""
        with self._lock:
            self.webhooks.append(record)

    def calls_to(self, method: str, suffix: str = "") -> list[FalCall]:
        """The calls with ``method`` whose path ends with ``suffix``."""
        with self._lock:
            return [c for c in self.calls if c.method == method and c.path.endswith(suffix)]

    def scenario_for(self, prompt: str) -> FalScenario:
        """The scenario of the next submit: queued or default, then the prompt's markers (ValueError when bad)."""
        with self._lock:
            base = self._queued.popleft() if self._queued else self.default_scenario.copy()
        return apply_prompt_markers(base, prompt)

    def create(self, endpoint: str, body: dict[str, Any], scenario: FalScenario, webhook_url: str | None) -> SimRequest:
        """A new request in the queue."""
        request = SimRequest(secrets.token_hex(16), endpoint, body, scenario, webhook_url)
        with self._lock:
            self._requests[request.id] = request
        return request

    def get(self, request_id: str) -> SimRequest | None:
        """The request, or None."""
        with self._lock:
            return self._requests.get(request_id)

    @property
    def requests(self) -> list[SimRequest]:
        """Every request, oldest first."""
        with self._lock:
            return list(self._requests.values())

    def poll(self, request_id: str) -> StatusStep | None:
        """Count a status poll and say what it answers (None: no such request)."""
        with self._lock:
            request = self._requests.get(request_id)
            if request is None:
                return None
            step = StatusStep(
                request, request.status_polls < request.scenario.lost_polls, request.phase(), request.queue_position()
            )
            request.status_polls += 1
            return step

    def cancel(self, request_id: str) -> bool | None:
        """Cancel a request not yet completed: True; False when it had completed; None when unknown."""
        with self._lock:
            request = self._requests.get(request_id)
            if request is None:
                return None
            if request.cancelled or request.phase() == "COMPLETED":
                return False
            request.cancelled = True
            return True

    def claim_webhook(self, request_id: str) -> SimRequest | None:
        """The request, the first time its webhook is due (completed, with a webhook URL); None otherwise."""
        with self._lock:
            request = self._requests.get(request_id)
            if request is None or request.webhook_sent or not request.webhook_url:
                return None
            if request.phase() != "COMPLETED":
                return None
            request.webhook_sent = True
            return request
