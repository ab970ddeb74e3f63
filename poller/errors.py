"""The error taxonomy: normalized codes that every adapter maps its failures onto.

Users see the message for a code (see ``bot/texts.py``), never the provider's raw error; operators
see both in the job record and the logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class ErrorCode(StrEnum):
    """Normalized error codes (DESIGN.md, "Error taxonomy")."""

    INVALID_INPUT = "invalid_input"
    MODERATION_REJECTED = "moderation_rejected"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    RATE_LIMITED = "rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_ERROR = "provider_error"
    TIMEOUT = "timeout"
    DOWNLOAD_FAILED = "download_failed"
    UPLOAD_FAILED = "upload_failed"
    DELIVERY_FAILED = "delivery_failed"
    CANCELLED = "cancelled"

    @property
    def retryable(self) -> bool:
        """Whether a failure with this code is worth another attempt."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {
        ErrorCode.RATE_LIMITED,
        ErrorCode.PROVIDER_UNAVAILABLE,
        ErrorCode.DOWNLOAD_FAILED,
        ErrorCode.UPLOAD_FAILED,
        ErrorCode.DELIVERY_FAILED,
    }
)


class ReelayError(Exception):
    """Base of every error Reelay raises on purpose."""


class ConfigError(ReelayError):
    """A setting is missing or invalid; ``key`` names it (``telegram.token``). ``problems`` lists every
    ``(key, message)`` found, this one first."""

    def __init__(self, key: str, message: str, *, more: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message
        self.problems: list[tuple[str, str]] = [(key, message), *more]

    @classmethod
    def of(cls, problems: Sequence[tuple[str, str]]) -> ConfigError:
        """One error for several problems (at least one)."""
        (key, message), *more = problems
        return cls(key, message, more=more)


class JobError(ReelayError):
    """A failure with a normalized code, raised by adapters and the delivery pipeline.

    ``raw`` keeps the provider's own words for operators (truncated, never shown to users);
    ``retry_after`` is the provider's hint in seconds when it gave one (HTTP 429).
    """

    def __init__(
        self,
        code: ErrorCode,
        raw: str = "",
        *,
        retry_after: float | None = None,
        request_sent: bool = True,
        outcome_unknown: bool = False,
        permanent: bool = False,
        provider_down: bool = False,
        task_missing: bool = False,
    ) -> None:
        super().__init__(f"{code.value}: {raw}" if raw else code.value)
        self.code = code
        self.raw = raw[:2000]
        self.retry_after = retry_after
        # False when the request certainly never reached the provider (connect error): a submit
        # that failed this way is safe to repeat; one that may have arrived is not.
        self.request_sent = request_sent
        # True when the request may have been acted on but no answer came back (a timeout after
        # sending): the one case where repeating a submit could create, and charge, a second task.
        self.outcome_unknown = outcome_unknown
        # True when another attempt would meet the same answer (a refused address, a file that is not a
        # video), even though failures with this code are usually worth retrying.
        self.permanent = permanent
        # True when the provider said it is down (KIE 455 maintenance, fal 503): it refused the request, so no
        # task exists, and trying it again in seconds will not help (failover moves the job on at once).
        self.provider_down = provider_down
        # True when the provider says it does not know a task we hold an id for (fal's 404 NOT_FOUND): transient a
        # few times (a task just submitted may not be visible everywhere yet), then a failure (the engine counts).
        self.task_missing = task_missing

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed."""
        return self.code.retryable and not self.permanent


class InvalidTransition(ReelayError):
    """A state change the transition table does not allow, or that lost a race."""

    def __init__(self, job_id: str, current: str | None, target: str) -> None:
        super().__init__(f"job {job_id}: cannot move from {current} to {target}")
        self.job_id = job_id
        self.current = current
        self.target = target


class TooManyActive(ReelayError):
    """A new job refused: its user already has ``count`` jobs in progress, the most allowed at once."""

    def __init__(self, job_id: str, count: int) -> None:
        super().__init__(f"job {job_id}: its user already has {count} jobs in progress")
        self.job_id = job_id
        self.count = count


class JobNotFound(ReelayError):
    """No job with this id exists (or it expired)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id
