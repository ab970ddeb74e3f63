"""What a simulated KIE task does: how long it runs, how it ends, and which faults it injects.

A scenario comes from (first match wins) the simulator's queue (``sim.queue_scenario``, FIFO, one
per create call), else ``sim.default_scenario`` (plus the random sandbox knobs); markers in the prompt
then override single fields, so a human in the sandbox can steer a task from the chat:

``[success]`` ``[fail]`` ``[moderation]``  the outcome
``[polls=3]``                            answer "generating" for 3 polls, then the outcome
``[after=20]``                           finish 20 s after creation instead (time-based)
``[faults=500,429]`` / ``[fault=455]``     faults injected on the next polls, before normal answers
``[submit_fault=429]``                   a fault answered to the create call itself
``[bytes=5000000]``                      serve a 5 MB video instead of the sample (the sample, padded in an MP4
                                         ``free`` box, generated as it streams)
``[download_faults=404,truncate]``       faults injected on the next downloads of the video (``not_video``:
                                         bytes that are no video, labelled ``video/mp4``)
``[upgrade_polls=2]``                    an upgrade of this video (1080p, 4K) answers "processing" to 2 status calls
                                         after the one that started it, then gives its result (default 1)
``[upgrade_after=5]``                    an upgrade ends 5 s after it started instead (and calls back, for 4K)
``[upgrade=fail]``                       upgrades of this video fail (4K: "unavailable")
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["success", "fail", "moderation"]
OUTCOMES: tuple[Outcome, ...] = ("success", "fail", "moderation")
UpgradeOutcome = Literal["success", "fail"]
UPGRADE_OUTCOMES: tuple[UpgradeOutcome, ...] = ("success", "fail")

# Poll/submit faults. Besides these names, any HTTP error code ("402", "503" …) answers that status.
NAMED_FAULTS = ("malformed", "unknown_shape", "deep_json", "timeout")
# Download faults: an HTTP error code, a body cut short, or a body sent without Content-Length.
NAMED_DOWNLOAD_FAULTS = ("truncate", "chunked", "not_video")

_MARKER = re.compile(r"\[(\w+)(?:=([^\]]*))?\]")


def is_http_error_code(fault: str) -> bool:
    """Whether ``fault`` is a 4xx/5xx status code such as ``"429"``."""
    return fault.isdigit() and 400 <= int(fault) <= 599


def _check_faults(faults: list[str], named: tuple[str, ...], what: str) -> None:
    for fault in faults:
        if not (is_http_error_code(fault) or fault in named):
            raise ValueError(f"unknown {what} {fault!r} (use an HTTP error code or one of {', '.join(named)})")


@dataclass
class Scenario:
    """The behaviour of one simulated task."""

    polls_before_done: int = 0
    outcome: Outcome = "success"
    faults: list[str] = field(default_factory=list)
    submit_fault: str | None = None
    video_bytes: int | None = None
    completion_s: float | None = None  # when set, the task ends this long after creation
    download_faults: list[str] = field(default_factory=list)
    # How upgrades of this video (1080p, 4K) behave: sandbox/kie/upgrades.py.
    upgrade_polls: int = 1
    upgrade_after: float | None = None
    upgrade_outcome: UpgradeOutcome = "success"

    def __post_init__(self) -> None:
        if self.polls_before_done < 0:
            raise ValueError("polls_before_done must be >= 0")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        _check_faults(self.faults, NAMED_FAULTS, "fault")
        if self.submit_fault is not None:
            _check_faults([self.submit_fault], NAMED_FAULTS, "submit fault")
        _check_faults(self.download_faults, NAMED_DOWNLOAD_FAULTS, "download fault")
        if self.video_bytes is not None and self.video_bytes < 0:
            raise ValueError("video_bytes must be >= 0")
        if self.completion_s is not None and self.completion_s < 0:
            raise ValueError("completion_s must be >= 0")
        if self.upgrade_polls < 0 or (self.upgrade_after is not None and self.upgrade_after < 0):
            raise ValueError("upgrade_polls and upgrade_after must be >= 0")
        if self.upgrade_outcome not in UPGRADE_OUTCOMES:
            raise ValueError(f"upgrade_outcome must be one of {', '.join(UPGRADE_OUTCOMES)}")

    def copy(self) -> Scenario:
        """An independent copy (tasks mutate their fault lists)."""
        return copy.deepcopy(self)


def apply_prompt_markers(scenario: Scenario, prompt: str) -> Scenario:
    """``scenario`` with the fields named by ``[marker]``s in ``prompt`` replaced; ValueError on bad values."""
    changes: dict[str, object] = {}
    for name, value in _MARKER.findall(prompt):
        key = name.lower()
        if key in OUTCOMES and not value:
            changes["outcome"] = key
        elif key == "polls":
            changes["polls_before_done"] = int(value)
        elif key == "after":
            changes["completion_s"] = float(value)
        elif key in ("fault", "faults"):
            changes["faults"] = _split(value)
        elif key == "submit_fault":
            changes["submit_fault"] = value.strip() or None
        elif key == "bytes":
            changes["video_bytes"] = int(value)
        elif key in ("download_fault", "download_faults"):
            changes["download_faults"] = _split(value)
        elif key == "upgrade_polls":
            changes["upgrade_polls"] = int(value)
        elif key == "upgrade_after":
            changes["upgrade_after"] = float(value)
        elif key == "upgrade" and value:
            changes["upgrade_outcome"] = value.strip()
        # Any other [word] is ordinary prompt text.
    if not changes:
        return scenario
    merged = scenario.copy()
    for key, value in changes.items():
        setattr(merged, key, value)
    merged.__post_init__()
    return merged


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
