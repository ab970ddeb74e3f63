"""The job: the product contract, its states and the transitions allowed between them."""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from poller.errors import ErrorCode


class JobStatus(StrEnum):
    """Where a job is in its life (DESIGN.md, "The job")."""

    QUEUED = "queued"  # recorded, not yet handed to the provider
    VALIDATING = "validating"  # being submitted to the provider
    RUNNING = "running"  # the provider has a task id; we poll it
    DELAYED = "delayed"  # polling attempts ran out; the slower sweeper checks it
    DELIVERING = "delivering"  # the provider finished; download, upload, send
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """No transition leaves a terminal state."""
        return self in TERMINAL_STATES

    @property
    def pollable(self) -> bool:
        """The provider is working on it: a poll can tell us more."""
        return self in (JobStatus.RUNNING, JobStatus.DELAYED)


TERMINAL_STATES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE_STATES = frozenset(set(JobStatus) - TERMINAL_STATES)

# target -> the states it may be reached from. Checked atomically by the job store (compare-and-set),
# so two processes can never both deliver, fail or cancel one job.
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.VALIDATING}),  # a submit that surely never arrived
    JobStatus.VALIDATING: frozenset({JobStatus.QUEUED}),
    JobStatus.RUNNING: frozenset({JobStatus.VALIDATING}),
    JobStatus.DELAYED: frozenset({JobStatus.RUNNING}),
    # FAILED -> DELIVERING only for the reconciler: a timed-out task whose video turned up late.
    JobStatus.DELIVERING: frozenset({JobStatus.RUNNING, JobStatus.DELAYED, JobStatus.FAILED}),
    JobStatus.SUCCEEDED: frozenset({JobStatus.DELIVERING}),
    JobStatus.FAILED: frozenset(ACTIVE_STATES),
    JobStatus.CANCELLED: frozenset(ACTIVE_STATES - {JobStatus.DELIVERING}),
}


# Failures that are the provider's final answer about the task (not ours, not the user's cancel or a timeout).
PROVIDER_VERDICTS = frozenset(
    {ErrorCode.INVALID_INPUT, ErrorCode.MODERATION_REJECTED, ErrorCode.PROVIDER_ERROR, ErrorCode.INSUFFICIENT_CREDITS}
)


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    """Whether the table allows ``current -> target``."""
    return current in ALLOWED_TRANSITIONS[target]


# The chat of a job that has none: one made over the job API by a key without a chat (``--chat-id``). Its status and
# video are told through the API (and webhooks), never in Telegram. Telegram gives no chat the id 0.
NO_CHAT = 0


def new_job_id() -> str:
    """A short, URL-safe, unguessable id (11 characters; fits callback data with room to spare)."""
    return secrets.token_urlsafe(8)


# Where a job's recorded cost came from (``Job.cost_source``).
COST_REPORTED = "provider"  # the provider said what it charged (KIE's creditsConsumed, fal's billable units)
COST_CONFIGURED = "configured"  # it did not: the operator's price for the video (credits.prices)


class TaskKind(StrEnum):
    """What a job asks of the provider: a new video, a continuation, or a bigger copy of a finished one."""

    GENERATE = "generate"
    EXTEND = "extend"
    UPSCALE_1080P = "1080p"
    UPSCALE_4K = "4k"


@dataclass(frozen=True, slots=True)
class RefusedSubmit:
    """A submit a provider refused before any task existed (failover moved the job on to another model)."""

    model: str
    provider: str
    error: str  # the normalized error code
    raw: str
    at: float

    def to_json(self) -> dict[str, Any]:
        """As stored in the job's ``refused_submits`` list."""
        return {"model": self.model, "provider": self.provider, "error": self.error, "raw": self.raw, "at": self.at}

    @classmethod
    def from_json(cls, data: Any) -> RefusedSubmit | None:
        """Rebuild one entry; None for anything that is not one."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                str(data["model"]), str(data["provider"]), str(data["error"]), str(data["raw"]), float(data["at"])
            )
        except (KeyError, TypeError, ValueError):
            return None


class AspectRatio(StrEnum):
    """The aspect ratios a user can pick."""

    LANDSCAPE = "16:9"
    PORTRAIT = "9:16"
    SQUARE = "1:1"


@dataclass(frozen=True, slots=True)
class JobOptions:
    """What the user asked for besides the prompt."""

    aspect_ratio: AspectRatio = AspectRatio.LANDSCAPE
    duration_s: int = 8
    image_url: str | None = None  # the first frame (image-to-video): a URL the provider can fetch
    last_image_url: str | None = None  # the last frame, on models that take one
    resolution: str | None = None  # None: the model's default
    # Where the photos come from until they are stored for the provider ("telegram:<file id>", or an integrator's
    # https URL); the engine turns each into ``image_url`` / ``last_image_url`` before the submit.
    image_source: str | None = None
    last_image_source: str | None = None

    @property
    def has_image(self) -> bool:
        """Whether the job starts from a photo (stored already or not)."""
        return bool(self.image_url or self.image_source)

    def replace(self, **changes: Any) -> JobOptions:
        """A copy with some options changed."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class VideoOutput:
    """The delivered video: where it is stored and what it is."""

    storage_key: str
    url: str
    size_bytes: int
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None

    def to_fields(self) -> dict[str, str]:
        """The output as job-hash fields (``output_*``)."""
        raw = {
            "output_key": self.storage_key,
            "output_url": self.url,
            "output_size": self.size_bytes,
            "output_duration": self.duration_s,
            "output_width": self.width,
            "output_height": self.height,
        }
        return {k: str(v) for k, v in raw.items() if v is not None}

    @classmethod
    def from_fields(cls, data: dict[str, str]) -> VideoOutput | None:
        """Rebuild from job-hash fields; None when no output was recorded."""
        if not data.get("output_key"):
            return None
        return cls(
            storage_key=data["output_key"],
            url=data.get("output_url", ""),
            size_bytes=int(data.get("output_size", "0")),
            duration_s=_opt_float(data.get("output_duration")),
            width=_opt_int(data.get("output_width")),
            height=_opt_int(data.get("output_height")),
        )


@dataclass(frozen=True, slots=True)
class Job:
    """A request for one video, as stored in Redis (one hash per job)."""

    id: str
    user_id: int
    chat_id: int
    model: str
    prompt: str
    options: JobOptions = field(default_factory=JobOptions)
    provider: str = ""
    provider_task_id: str | None = None
    parent_id: str | None = None
    status: JobStatus = JobStatus.QUEUED
    attempts: int = 0
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    # Unix time of each transition, keyed by status value ("running" -> 1700000000.0).
    transitions: dict[str, float] = field(default_factory=dict)
    next_poll_at: float | None = None
    cost: int = 0
    billing_state: str = "none"
    output: VideoOutput | None = None
    error_code: ErrorCode | None = None
    error_raw: str | None = None
    late: bool = False
    # The notifier's opaque handle on the delivered preview (for Telegram: "chat_id:message_id:file_id").
    delivered_ref: str | None = None
    published: bool = False
    # The provider's video URL, kept from the successful poll so delivery can resume after a restart.
    result_url: str | None = None
    delivery_attempts: int = 0
    # The process that polls this job (its lease); "" while nobody holds it.
    owner: str = ""
    # Unguessable token in the provider callback URL (``/callbacks/kie/<token>``).
    callback_token: str | None = None
    # How many of the reconciler's late checks (after a timeout) have run.
    late_checks: int = 0
    # What the provider said the task cost, in its own credits (KIE's creditsConsumed), when it said so.
    provider_cost: float | None = None
    # Where ``provider_cost`` came from: "provider" (it reported the charge) or "configured" (credits.prices).
    cost_source: str | None = None
    # What the job asks of the provider; a child job (extend, upscale) names its parent in ``parent_id``.
    kind: TaskKind = TaskKind.GENERATE
    # What the provider handed back besides the task id and needs again to follow it (fal's status URL).
    task_meta: dict[str, str] = field(default_factory=dict)
    # The model the user asked for, when failover made the video with another one (``model``).
    requested_model: str | None = None
    refused_submits: tuple[RefusedSubmit, ...] = ()
    # Queued over the provider's pace (the status message says it is waiting to start).
    pace_waiting: bool = False
    # The task's place in the provider's queue (fal), while it waits there; None once it runs.
    queue_position: int | None = None
    # Polls in a row whose answer was "no such task" (fal's 404 NOT_FOUND); stored so a restart keeps the count.
    task_misses: int = 0
    # A job created over the job API: the name of the API key that owns it (None: made in Telegram or poll-video),
    # where its events are also sent (``callback_url``), and the integrator's own JSON object, echoed back.
    api_key: str | None = None
    callback_url: str | None = None
    metadata: str | None = None  # JSON text of an object, at most 2 KB (checked where it comes in)

    @property
    def is_extension(self) -> bool:
        """Whether this job extends an earlier video (the Extend button)."""
        return self.kind is TaskKind.EXTEND

    @property
    def is_upscale(self) -> bool:
        """Whether this job makes a bigger copy (1080p, 4K) of an earlier video."""
        return self.kind in (TaskKind.UPSCALE_1080P, TaskKind.UPSCALE_4K)

    def generation_s(self) -> float | None:
        """From the submit (or, for a task adopted from elsewhere, from when polling began) to the provider's final
        answer: its success (``delivering``) or, for a job the provider failed, the failure. None otherwise."""
        start = self.transitions.get(JobStatus.VALIDATING.value, self.transitions.get(JobStatus.RUNNING.value))
        if start is None:
            return None
        end = self.transitions.get(JobStatus.DELIVERING.value)
        if end is None and self.status is JobStatus.FAILED and self.error_code in PROVIDER_VERDICTS:
            end = self.transitions.get(JobStatus.FAILED.value)
        return max(0.0, end - start) if end is not None else None

    def elapsed_s(self, now: float | None = None) -> float:
        """Seconds from creation to the last transition (or to ``now`` while active)."""
        end = self.updated_at if self.status.terminal else (now or time.time())
        return max(0.0, end - self.created_at)

    def replace(self, **changes: Any) -> Job:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # Flat string mapping: how the job lives in a Redis hash. Kept next to the model so every
    # store reads and writes the same field names.
    def to_fields(self) -> dict[str, str]:
        """The job as a flat ``{field: str}`` mapping. ``None`` fields and counters, flags and states still
        at their defaults are left out (:meth:`from_fields` restores them): at 240,000 jobs in flight every
        field costs Redis memory (docs/performance.md)."""
        raw: dict[str, Any] = {
            "id": self.id,
            "user_id": self.user_id,
            "chat_id": self.chat_id,
            "model": self.model,
            "prompt": self.prompt,
            "aspect_ratio": self.options.aspect_ratio.value,
            "duration_s": self.options.duration_s,
            "image_url": self.options.image_url,
            "last_image_url": self.options.last_image_url,
            "resolution": self.options.resolution,
            "image_source": self.options.image_source,
            "last_image_source": self.options.last_image_source,
            "provider": self.provider,
            "provider_task_id": self.provider_task_id,
            "parent_id": self.parent_id,
            "status": self.status.value,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "next_poll_at": self.next_poll_at,
            "cost": self.cost,
            "billing_state": self.billing_state,
            "error_code": self.error_code.value if self.error_code else None,
            "error_raw": self.error_raw,
            "late": int(self.late),
            "delivered_ref": self.delivered_ref,
            "published": int(self.published),
            "result_url": self.result_url,
            "delivery_attempts": self.delivery_attempts,
            "owner": self.owner,
            "callback_token": self.callback_token,
            "late_checks": self.late_checks,
            "provider_cost": self.provider_cost,
            "cost_source": self.cost_source,
            # Left out for the common case, a new video; a child job always says what it is.
            "pace_waiting": int(self.pace_waiting),
            "queue_position": self.queue_position,
            "task_misses": self.task_misses,
            "api_key": self.api_key,
            "callback_url": self.callback_url,
            "metadata": self.metadata,
            "kind": self.kind.value if self.kind is not TaskKind.GENERATE or self.parent_id else None,
            "task_meta": json.dumps(self.task_meta, separators=(",", ":")) if self.task_meta else None,
            "requested_model": self.requested_model,
            "refused_submits": json.dumps([step.to_json() for step in self.refused_submits], separators=(",", ":"))
            if self.refused_submits
            else None,
        }
        for status, at in self.transitions.items():
            raw[f"at_{status}"] = at
        fields = {k: str(v) for k, v in raw.items() if v is not None and _DEFAULTS.get(k) != v}
        if self.output is not None:
            fields.update(self.output.to_fields())
        return fields

    @classmethod
    def from_fields(cls, data: dict[str, str]) -> Job:
        """Rebuild a job from :meth:`to_fields` output (unknown fields are ignored).

        Every engine step rebuilds a job, so the enum lookups go through dicts and the transition times
        through the known statuses (an Enum call and a scan of every field cost ~5 µs of ~12)."""
        get = data.get
        transitions = {}
        for key, status in _TRANSITION_FIELDS:
            at = get(key)
            if at is not None:
                transitions[status] = float(at)
        error_code = get("error_code")
        parent_id = get("parent_id")
        kind = get("kind")
        task_meta = get("task_meta")
        refused = get("refused_submits")
        return cls(
            id=data["id"],
            user_id=int(data["user_id"]),
            chat_id=int(data["chat_id"]),
            model=data["model"],
            prompt=get("prompt", ""),
            options=_options_from_fields(data),
            provider=get("provider", ""),
            provider_task_id=get("provider_task_id"),
            parent_id=parent_id,
            status=_enum_member(JobStatus, _STATUSES, data["status"]),
            attempts=int(get("attempts", "0")),
            created_at=float(data["created_at"]),
            updated_at=float(get("updated_at", data["created_at"])),
            transitions=transitions,
            next_poll_at=_opt_float(get("next_poll_at")),
            cost=int(get("cost", "0")),
            billing_state=get("billing_state", "none"),
            output=VideoOutput.from_fields(data),
            error_code=_enum_member(ErrorCode, _ERROR_CODES, error_code) if error_code else None,
            error_raw=get("error_raw"),
            late=get("late") == "1",
            delivered_ref=get("delivered_ref"),
            published=get("published") == "1",
            result_url=get("result_url"),
            delivery_attempts=int(get("delivery_attempts", "0")),
            owner=get("owner", ""),
            callback_token=get("callback_token"),
            late_checks=int(get("late_checks", "0")),
            provider_cost=_opt_float(get("provider_cost")),
            cost_source=get("cost_source"),
            # Jobs stored before kinds existed: a child job was an extension.
            kind=_KINDS.get(kind, TaskKind.EXTEND if parent_id else TaskKind.GENERATE),
            task_meta=_string_map(task_meta) if task_meta else {},
            requested_model=get("requested_model"),
            pace_waiting=get("pace_waiting") == "1",
            queue_position=_opt_int(get("queue_position")),
            task_misses=int(get("task_misses") or "0"),
            api_key=get("api_key"),
            callback_url=get("callback_url"),
            metadata=get("metadata"),
            refused_submits=_refused_submits(refused) if refused else (),
        )


_STATUSES: dict[str, JobStatus] = {status.value: status for status in JobStatus}
_ERROR_CODES: dict[str, ErrorCode] = {code.value: code for code in ErrorCode}
_ASPECT_RATIOS: dict[str, AspectRatio] = {ratio.value: ratio for ratio in AspectRatio}
_KINDS: dict[str | None, TaskKind] = {kind.value: kind for kind in TaskKind}
_TRANSITION_FIELDS = tuple((f"at_{status.value}", status.value) for status in JobStatus)
_DEFAULT_OPTIONS = JobOptions()
_E = TypeVar("_E", bound=StrEnum)


def status_of(value: str) -> JobStatus:
    """``JobStatus(value)`` without the Enum call's cost (per job when thousands are scanned or adopted)."""
    return _enum_member(JobStatus, _STATUSES, value)


def _enum_member(enum: type[_E], members: dict[str, _E], value: str) -> _E:
    """``enum(value)`` through a dict (an Enum call costs ~0.4 µs); unknown values raise as the Enum does."""
    member = members.get(value)
    return member if member is not None else enum(value)


def _options_from_fields(data: dict[str, str]) -> JobOptions:
    get = data.get
    aspect_ratio, duration_s, image_url = get("aspect_ratio"), get("duration_s"), get("image_url")
    last_image_url, resolution, image_source = get("last_image_url"), get("resolution"), get("image_source")
    if aspect_ratio is None and duration_s is None and image_url is None and resolution is None and not image_source:
        return _DEFAULT_OPTIONS  # frozen, so one instance serves every job that kept the defaults
    return JobOptions(
        aspect_ratio=_enum_member(AspectRatio, _ASPECT_RATIOS, aspect_ratio)
        if aspect_ratio is not None
        else AspectRatio.LANDSCAPE,
        duration_s=int(duration_s) if duration_s is not None else 8,
        image_url=image_url,
        last_image_url=last_image_url,
        resolution=resolution,
        image_source=image_source,
        last_image_source=get("last_image_source"),
    )


def _string_map(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _refused_submits(text: str) -> tuple[RefusedSubmit, ...]:
    try:
        data = json.loads(text)
    except ValueError:
        return ()
    steps = (RefusedSubmit.from_json(item) for item in data) if isinstance(data, list) else ()
    return tuple(step for step in steps if step is not None)


# Values from_fields assumes for an absent field: not worth storing.
_DEFAULTS: dict[str, object] = {
    "aspect_ratio": AspectRatio.LANDSCAPE.value,
    "duration_s": 8,
    "attempts": 0,
    "cost": 0,
    "billing_state": "none",
    "late": 0,
    "published": 0,
    "delivery_attempts": 0,
    "owner": "",
    "late_checks": 0,
    "pace_waiting": 0,
    "task_misses": 0,
}


def _opt_float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _opt_int(value: str | None) -> int | None:
    return int(float(value)) if value not in (None, "") else None
