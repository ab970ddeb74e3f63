"""A user's generation preferences (model, aspect ratio, duration), kept in PTB's ``user_data``.

``user_data`` is persisted to Redis by :class:`storage.ptb_persistence.RedisPersistence`, so preferences
survive restarts; values are plain strings and ints so they serialize as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from poller.errors import ErrorCode, JobError
from poller.jobs import AspectRatio, JobOptions
from providers.catalog import Catalog, ModelInfo, get_model

_KEY = "prefs"


@dataclass(frozen=True, slots=True)
class Preferences:
    """What the next video will be made with. ``withdrawn``: the saved model, when it is no longer offered and
    the default replaced it (the user is told once)."""

    model: str
    aspect_ratio: AspectRatio
    duration_s: int
    withdrawn: str | None = None

    @property
    def model_info(self) -> ModelInfo:
        """The catalog entry of the chosen model."""
        return get_model(self.model)

    def options(self) -> JobOptions:
        """The job options these preferences produce."""
        return JobOptions(aspect_ratio=self.aspect_ratio, duration_s=self.duration_s)

    def as_strings(self) -> dict[str, str]:
        """For the session snapshot."""
        return {"model": self.model, "aspect_ratio": self.aspect_ratio.value, "duration_s": str(self.duration_s)}

    def with_model(self, model_id: str, catalog: Catalog) -> Preferences:
        """Switch to an offered model, keeping the aspect ratio and duration only where the new model allows them."""
        if not catalog.is_enabled(model_id):
            raise JobError(ErrorCode.INVALID_INPUT, f"{model_id} is not offered", request_sent=False)
        return _fit(get_model(model_id), self.aspect_ratio, self.duration_s)

    def with_aspect(self, aspect: AspectRatio) -> Preferences:
        """Change the aspect ratio (refused by the caller when the model does not offer it)."""
        return _fit(self.model_info, aspect, self.duration_s)

    def with_duration(self, duration_s: int) -> Preferences:
        """Change the duration (refused by the caller when the model does not offer it)."""
        return _fit(self.model_info, self.aspect_ratio, duration_s)


def load(
    user_data: Mapping[str, Any] | None, catalog: Catalog, default_model: str, default_aspect: AspectRatio
) -> Preferences:
    """The user's preferences, repaired against what is offered now (a model may have been disabled or removed)."""
    saved = (user_data or {}).get(_KEY) or {}
    model_id = str(saved.get("model", default_model))
    withdrawn = None
    if not catalog.is_enabled(model_id):
        withdrawn = model_id if "model" in saved else None  # a new user simply gets the default
        model_id = default_model if catalog.is_enabled(default_model) else catalog.offered()[0].id
    aspect = _parse_aspect(saved.get("aspect_ratio"), default_aspect)
    prefs = _fit(get_model(model_id), aspect, _int(saved.get("duration_s")))
    return Preferences(prefs.model, prefs.aspect_ratio, prefs.duration_s, withdrawn) if withdrawn else prefs


def save(user_data: MutableMapping[str, Any], prefs: Preferences) -> None:
    """Store preferences in ``user_data``."""
    user_data[_KEY] = {"model": prefs.model, "aspect_ratio": prefs.aspect_ratio.value, "duration_s": prefs.duration_s}


def label_of(model_id: str) -> str:
    """A model's label for users, or its id when the catalog no longer has it."""
    try:
        return get_model(model_id).label
    except JobError:
        return model_id


def _fit(info: ModelInfo, aspect: AspectRatio, duration_s: int) -> Preferences:
    if aspect not in info.aspect_ratios:
        aspect = info.aspect_ratios[0]
    if duration_s not in info.durations_s:
        duration_s = info.durations_s[0]
    return Preferences(model=info.id, aspect_ratio=aspect, duration_s=duration_s)


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _parse_aspect(value: object, default: AspectRatio) -> AspectRatio:
    try:
        return AspectRatio(str(value))
    except ValueError:
        return default
