"""The simulator's state: tasks, what clients sent, and the knobs. Thread-safe: the server runs in
its own thread while tests inspect and steer it from theirs."""

from __future__ import annotations

import copy
import random
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sandbox.kie.inputs import InputBook
from sandbox.kie.scenario import Outcome, Scenario, apply_prompt_markers
from sandbox.kie.upgrades import UpgradeBook

Api = Literal["veo", "market"]


@dataclass
class SimTask:
    """One simulated task. Read copies through :attr:`KieSimulator.tasks`."""

    id: str
    api: Api
    model: str
    prompt: str
    body: dict[str, Any]
    scenario: Scenario
    base_url: str
    callback_url: str | None = None
    parent_id: str | None = None
    created_at: float = field(default_factory=time.time)
    created_monotonic: float = field(default_factory=time.monotonic)
    normal_polls: int = 0  # polls answered with a status (not a fault)
    finished_at: float | None = None

    @property
    def outcome(self) -> Outcome:
        """How the task ends (decided at creation)."""
        return self.scenario.outcome

    @property
    def finished(self) -> bool:
        """Whether the task has reached its outcome."""
        return self.finished_at is not None

    @property
    def time_based(self) -> bool:
        """Whether the task ends after a time rather than after a number of polls."""
        return self.scenario.completion_s is not None

    def progress(self) -> float:
        """Percent done, 0–100."""
        if self.finished:
            return 100.0
        if self.scenario.completion_s:
            elapsed = time.monotonic() - self.created_monotonic
            return min(99.0, 100.0 * elapsed / self.scenario.completion_s)
        return min(99.0, 100.0 * self.normal_polls / (self.scenario.polls_before_done + 1))


@dataclass(frozen=True)
class PollStep:
    """What one poll of a task should answer: a fault, or the task's status."""

    task: SimTask
    fault: str | None
    newly_finished: bool


@dataclass(frozen=True)
class CallbackRecord:
    """One callback the simulator POSTed (or tried to)."""

    task_id: str
    url: str
    body: dict[str, Any]
    status_code: int | None
    error: str | None = None


@dataclass(frozen=True)
class _Knobs:
    completion_s: tuple[float, float] | None
    failure_rate: float
    moderation_rate: float
    hang_s: float
    retry_after_s: int
    public_url: str | None


class KieSimulator:
    """The state behind the simulated KIE.ai API, plus the knobs tests and sandbox users turn.

    Knobs: ``default_scenario``; for the sandbox, ``completion_s`` (a ``(low, high)`` range: tasks end
    after a random time in it), ``failure_rate`` and ``moderation_rate`` (drawn with a seeded RNG),
    applied only to tasks that use the default scenario; ``hang_s`` (how long a "timeout" fault
    stalls), ``retry_after_s`` (the 429 ``Retry-After``), ``public_url`` (base of the video links;
    default: the URL the request came in on), ``credit_balance`` (what ``/api/v1/chat/credit`` answers).
    """

    def __init__(
        self,
        api_key: str = "test-kie-key",
        video_path: Path | None = None,
        *,
        seed: int | None = None,
        completion_s: tuple[float, float] | None = None,
        failure_rate: float = 0.0,
        moderation_rate: float = 0.0,
        hang_s: float = 30.0,
        retry_after_s: int = 1,
        public_url: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.video_path = video_path
        self._defaults = _Knobs(completion_s, failure_rate, moderation_rate, hang_s, retry_after_s, public_url)
        self._seed = seed
        self._lock = threading.RLock()
        self._callback_sent = threading.Condition(self._lock)
        self.inputs = InputBook()  # uploads through the file upload API, and every image URL fetched
        self.reset()

    # ------------------------------------------------------------------ steering

    def reset(self) -> None:
        """Forget every task and record, and put the knobs back to their constructor values."""
        defaults = self._defaults
        with self._lock:
            self.default_scenario = Scenario()
            self.completion_s = defaults.completion_s
            self.failure_rate = defaults.failure_rate
            self.moderation_rate = defaults.moderation_rate
            self.hang_s = defaults.hang_s
            self.retry_after_s = defaults.retry_after_s
            self.public_url = defaults.public_url
            self.credit_balance: float = 1000.0
            self._rng = random.Random(self._seed)
            self._queue: deque[Scenario] = deque()
            self._tasks: dict[str, SimTask] = {}
            self._submissions: list[dict[str, Any]] = []
            self._submit_times: list[float] = []  # monotonic, one per create call received with a valid key
            self.submits_per_10s: int | None = None  # KIE's per-account pace (20): beyond it, 429
            self.paced_out = 0  # create calls refused for the pace
            self._polls: dict[str, int] = {}
            self._downloads: dict[str, int] = {}
            self._callbacks: list[CallbackRecord] = []
            self.upgrades = UpgradeBook()  # 1080p and 4K upgrades of finished Veo videos, and the calls for them
            self.inputs.reset()
            self.fetch_images = True  # fetch every image URL a create names (off: shape tests with made-up URLs)

    def queue_scenario(self, scenario: Scenario) -> None:
        """Use ``scenario`` for the next create call (generate, extend or createTask), FIFO."""
        with self._lock:
            self._queue.append(scenario.copy())

    # ------------------------------------------------------------------ observability

    @property
    def submissions(self) -> list[dict[str, Any]]:
        """Every create body received with a valid key (generate, extend, createTask), in order."""
        with self._lock:
            return copy.deepcopy(self._submissions)

    @property
    def submit_times(self) -> list[float]:
        """When each create call arrived (``time.monotonic()``), in order."""
        with self._lock:
            return list(self._submit_times)

    def over_pace(self) -> bool:
        """Count a create call against the pace; True when it is over it (KIE answers 429, nothing is created)."""
        now = time.monotonic()
        with self._lock:
            self._submit_times.append(now)
            if self.submits_per_10s is None:
                return False
            recent = sum(1 for at in self._submit_times if at > now - 10.0)
            if recent > self.submits_per_10s:
                self.paced_out += 1
                return True
            return False

    @property
    def polls(self) -> dict[str, int]:
        """Status polls per task id (faulted polls included)."""
        with self._lock:
            return dict(self._polls)

    @property
    def downloads(self) -> dict[str, int]:
        """Video downloads per task id (HEAD requests not counted)."""
        with self._lock:
            return dict(self._downloads)

    @property
    def tasks(self) -> dict[str, SimTask]:
        """Copies of every task, by id, in creation order."""
        with self._lock:
            return {task_id: copy.deepcopy(task) for task_id, task in self._tasks.items()}

    @property
    def callbacks(self) -> list[CallbackRecord]:
        """The callbacks sent so far."""
        with self._lock:
            return list(self._callbacks)

    # ------------------------------------------------------------------ used by the app

    def record_submission(self, body: dict[str, Any]) -> None:
        """Remember a create body."""
        with self._lock:
            self._submissions.append(copy.deepcopy(body))

    def next_scenario(self, prompt: str) -> Scenario:
        """The scenario for a new task (queue, else default plus random knobs), with prompt markers."""
        with self._lock:
            base = self._queue.popleft() if self._queue else self._randomized_default()
        return apply_prompt_markers(base, prompt)

    def add_task(self, task: SimTask) -> SimTask:
        """Store a new task; a poll-based task with no polls to wait for is finished at once."""
        with self._lock:
            if not task.time_based and task.scenario.polls_before_done == 0:
                task.finished_at = time.time()
            self._tasks[task.id] = task
            return copy.deepcopy(task)

    def get_task(self, task_id: str) -> SimTask | None:
        """A copy of a task (advanced if its time is up), or None."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                return None
            self._advance_by_time(task)
            return copy.deepcopy(task)

    def poll(self, task_id: str) -> PollStep | None:
        """Count a poll and say what to answer; None for an unknown task."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                return None
            self._polls[task_id] = self._polls.get(task_id, 0) + 1
            if task.scenario.faults:
                fault = task.scenario.faults.pop(0)
                return PollStep(copy.deepcopy(task), fault, newly_finished=False)
            task.normal_polls += 1
            was_finished = task.finished
            if task.time_based:
                self._advance_by_time(task)
            elif task.normal_polls > task.scenario.polls_before_done:
                task.finished_at = task.finished_at or time.time()
            return PollStep(copy.deepcopy(task), None, newly_finished=task.finished and not was_finished)

    def finish_if_due(self, task_id: str) -> bool:
        """Finish a time-based task whose time is up; True if this call finished it."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.finished:
                return False
            return self._advance_by_time(task)

    def next_download_fault(self, task_id: str) -> str | None:
        """Count a download and pop the next injected download fault, if any."""
        with self._lock:
            self._downloads[task_id] = self._downloads.get(task_id, 0) + 1
            task = self._tasks.get(task_id)
            if task is None or not task.scenario.download_faults:
                return None
            return task.scenario.download_faults.pop(0)

    def record_callback(self, record: CallbackRecord) -> None:
        """Remember a callback attempt."""
        with self._callback_sent:
            self._callbacks.append(record)
            self._callback_sent.notify_all()

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> list[CallbackRecord]:
        """Block (a test thread, never the server's loop) until ``count`` callbacks were attempted."""
        with self._callback_sent:
            self._callback_sent.wait_for(lambda: len(self._callbacks) >= count, timeout)
            return list(self._callbacks)

    def new_task_id(self, api: Api) -> str:
        """A fresh id in KIE's style (``veo_task_…`` for Veo, ``task_…`` for Market)."""
        prefix = "veo_task_" if api == "veo" else "task_"
        return f"{prefix}{secrets.token_hex(8)}"

    # ------------------------------------------------------------------ internals

    def _randomized_default(self) -> Scenario:
        scenario = self.default_scenario.copy()
        if self.completion_s is not None:
            low, high = self.completion_s
            scenario.completion_s = self._rng.uniform(low, high)
        draw = self._rng.random()
        if draw < self.moderation_rate:
            scenario.outcome = "moderation"
        elif draw < self.moderation_rate + self.failure_rate:
            scenario.outcome = "fail"
        return scenario

    def _advance_by_time(self, task: SimTask) -> bool:
        due = task.scenario.completion_s
        if task.finished or due is None or time.monotonic() - task.created_monotonic < due:
            return False
        task.finished_at = time.time()
        return True
