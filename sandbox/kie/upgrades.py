"""The simulator's upgrades of finished Veo videos (1080p, 4K): their state and every call made for them.

An upgrade is keyed by the video's task id, its index and the kind. It starts at the first request for it (1080p:
the first GET; 4K: the one paid POST), then answers "processing" to ``upgrade_polls`` status calls (or until
``upgrade_after`` seconds have passed) before its outcome, as the parent task's scenario says. Thread-safe: the
server runs in its own thread while tests inspect it from theirs.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from sandbox.kie.scenario import Scenario, UpgradeOutcome

UpgradeKind = Literal["1080p", "4k"]
# What KIE's 4K callback example reports as creditsConsumed (docs/providers.md).
CREDITS_4K = 120


@dataclass
class Upgrade:
    """One upgrade of one video. Read copies through :meth:`UpgradeBook.get`."""

    kind: UpgradeKind
    task_id: str
    index: int
    polls_before_done: int
    outcome: UpgradeOutcome
    completion_s: float | None = None
    callback_url: str | None = None
    started_monotonic: float = field(default_factory=time.monotonic)
    status_calls: int = 0  # calls after the one that started it
    finished: bool = False

    @property
    def time_based(self) -> bool:
        """Whether it ends after a time rather than after a number of status calls."""
        return self.completion_s is not None

    @property
    def credits(self) -> int:
        """What the upgrade costs the account (only 4K is paid)."""
        return CREDITS_4K if self.kind == "4k" else 0

    def due(self) -> bool:
        """Whether it should be finished now."""
        if self.time_based:
            return time.monotonic() - self.started_monotonic >= (self.completion_s or 0.0)
        if self.status_calls == 0:  # the request that started it: done at once only when no polls are asked for
            return self.polls_before_done == 0
        return self.status_calls > self.polls_before_done


@dataclass(frozen=True)
class UpgradeCall:
    """One request to an upgrade endpoint, as answered. ``paid``: it started (and charged for) a conversion."""

    kind: UpgradeKind
    task_id: str
    index: object
    code: int
    paid: bool = False


@dataclass(frozen=True)
class UpgradeStep:
    """What one request found: the upgrade after it, whether this request started it or finished it."""

    upgrade: Upgrade
    started: bool
    newly_finished: bool


class UpgradeBook:
    """Every upgrade and every upgrade call of one simulator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._upgrades: dict[tuple[UpgradeKind, str, int], Upgrade] = {}
        self._calls: list[UpgradeCall] = []

    @property
    def calls(self) -> list[UpgradeCall]:
        """Every call to ``get-1080p-video`` and ``get-4k-video`` with a valid key, in order."""
        with self._lock:
            return list(self._calls)

    def paid_calls(self, kind: UpgradeKind = "4k") -> list[UpgradeCall]:
        """The calls that started a paid conversion."""
        return [call for call in self.calls if call.kind == kind and call.paid]

    def get(self, kind: UpgradeKind, task_id: str, index: int = 0) -> Upgrade | None:
        """A copy of an upgrade, or None when nobody asked for it."""
        with self._lock:
            found = self._upgrades.get((kind, task_id, index))
            return copy.deepcopy(found) if found is not None else None

    def record(self, call: UpgradeCall) -> None:
        """Remember a call and how it was answered."""
        with self._lock:
            self._calls.append(call)

    def request(
        self, kind: UpgradeKind, task_id: str, index: int, scenario: Scenario, callback_url: str | None = None
    ) -> UpgradeStep:
        """A request for an upgrade: start it (the first request), or count a status call and finish it when due."""
        key = (kind, task_id, index)
        with self._lock:
            upgrade = self._upgrades.get(key)
            started = upgrade is None
            if upgrade is None:
                upgrade = self._upgrades[key] = Upgrade(
                    kind,
                    task_id,
                    index,
                    polls_before_done=scenario.upgrade_polls,
                    outcome=scenario.upgrade_outcome,
                    completion_s=scenario.upgrade_after,
                    callback_url=callback_url,
                )
            else:
                upgrade.status_calls += 1
            newly_finished = self._finish_if_due(upgrade)
            return UpgradeStep(copy.deepcopy(upgrade), started, newly_finished)

    def finish_if_due(self, kind: UpgradeKind, task_id: str, index: int = 0) -> Upgrade | None:
        """Finish a time-based upgrade whose time is up; the upgrade if this call finished it."""
        with self._lock:
            upgrade = self._upgrades.get((kind, task_id, index))
            if upgrade is None or not self._finish_if_due(upgrade):
                return None
            return copy.deepcopy(upgrade)

    @staticmethod
    def _finish_if_due(upgrade: Upgrade) -> bool:
        if upgrade.finished or not upgrade.due():
            return False
        upgrade.finished = True
        return True
