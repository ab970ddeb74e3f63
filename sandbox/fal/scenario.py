"""What a simulated fal request does: how long it waits in the queue, how long it runs, how it ends, and the
faults it injects. Markers in the prompt set single fields, so a human in the sandbox steers a request from the
chat:

``[success]`` ``[fail]`` ``[moderation]``  the outcome (``[fail]``: a runner error; ``[moderation]``: fal's
                                         ``content_policy_violation``)
``[queue=3]``                            three status polls answer ``IN_QUEUE``, at places 2, 1, 0
``[running=2]``                          then two answer ``IN_PROGRESS`` (default 1), then ``COMPLETED``
``[after=20]``                           finish 20 s after the submit instead (time-based; calls the webhook)
``[busy]``                               the submit is refused: 429 ``concurrent_requests_limit``
``[down]``                               the submit is refused: 503
``[submit_fault=500]``                   the submit answers that status
``[lost=2]``                             the first two status polls answer 404 ``NOT_FOUND`` (``[lost]``: every one)
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["success", "fail", "moderation"]
OUTCOMES: tuple[Outcome, ...] = ("success", "fail", "moderation")
EVERY_POLL = 1_000_000  # [lost] without a count

_MARKER = re.compile(r"\[(\w+)(?:=([^\]]*))?\]")


@dataclass
class FalScenario:
    """The behaviour of one simulated request."""

    queue: int = 0
    running: int = 1
    outcome: Outcome = "success"
    completion_s: float | None = None
    submit_fault: int | None = None  # an HTTP status answered to the submit
    lost_polls: int = 0

    def __post_init__(self) -> None:
        if self.queue < 0 or self.running < 0 or self.lost_polls < 0:
            raise ValueError("queue, running and lost must be >= 0")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if self.submit_fault is not None and not 400 <= self.submit_fault <= 599:
            raise ValueError("submit_fault must be an HTTP error status")
        if self.completion_s is not None and self.completion_s < 0:
            raise ValueError("after must be >= 0")

    def copy(self) -> FalScenario:
        """An independent copy."""
        return copy.deepcopy(self)


def apply_prompt_markers(scenario: FalScenario, prompt: str) -> FalScenario:
    """``scenario`` with the fields named by ``[marker]``s in ``prompt`` replaced; ValueError on bad values."""
    changes: dict[str, object] = {}
    for name, value in _MARKER.findall(prompt):
        key = name.lower()
        if key in OUTCOMES and not value:
            changes["outcome"] = key
        elif key == "queue":
            changes["queue"] = int(value)
        elif key in ("running", "polls"):
            changes["running"] = int(value)
        elif key == "after":
            changes["completion_s"] = float(value)
        elif key == "busy":
            changes["submit_fault"] = 429
        elif key == "down":
            changes["submit_fault"] = 503
        elif key == "submit_fault":
            changes["submit_fault"] = int(value)
        elif key == "lost":
            changes["lost_polls"] = int(value) if value else EVERY_POLL
        # Any other [word] is ordinary prompt text.
    if not changes:
        return scenario
    merged = scenario.copy()
    for key, value in changes.items():
        setattr(merged, key, value)
    merged.__post_init__()
    return merged
