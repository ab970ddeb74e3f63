"""Why a job was not created: the outcomes of :mod:`poller.create_job` that entry points put in their words."""

from __future__ import annotations

from dataclasses import dataclass

from poller.prompts import PromptProblem


@dataclass(frozen=True, slots=True)
class BadPrompt:
    """The prompt failed the cheap checks (empty, too long, control characters, not text)."""

    problem: PromptProblem


@dataclass(frozen=True, slots=True)
class ParentGone:
    """The video an extension continues no longer exists (it expired)."""

    parent_id: str


@dataclass(frozen=True, slots=True)
class VideoNotYours:
    """An extension of someone else's video."""

    parent_id: str


@dataclass(frozen=True, slots=True)
class UnknownModel:
    """No provider offers the model, or it has no price."""

    model: str


@dataclass(frozen=True, slots=True)
class ModelNotOffered:
    """The model exists, but this deployment does not offer it (``models.enabled``)."""

    model: str


@dataclass(frozen=True, slots=True)
class TakesNoPhoto:
    """The job starts from a photo, and the model makes videos from words only."""

    model: str


@dataclass(frozen=True, slots=True)
class OutOfCredits:
    """The balance does not cover the price."""

    balance: int
    price: int


@dataclass(frozen=True, slots=True)
class TooManyInProgress:
    """The user already has ``count`` videos in progress, the most allowed at once."""

    count: int


@dataclass(frozen=True, slots=True)
class DailyLimitReached:
    """The user made ``limit`` videos today (UTC); more are allowed from ``resets_at`` (Unix time)."""

    limit: int
    resets_at: float


@dataclass(frozen=True, slots=True)
class NotStored:
    """The job could not be stored (a failure on our side); whatever was reserved for it was given back."""


Refusal = (
    BadPrompt
    | ParentGone
    | VideoNotYours
    | UnknownModel
    | ModelNotOffered
    | TakesNoPhoto
    | OutOfCredits
    | TooManyInProgress
    | DailyLimitReached
    | NotStored
)
