"""A user's generation preferences (model, aspect ratio, duration), kept in PTB's ``user_data``.

``user_data`` is persisted to Redis by :class:`storage.ptb_persistence.RedisPersistence`, so preferences
survive restarts; values are plain strings and ints so they serialize as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from poller.errors import JobError
from poller.jobs import AspectRatio, JobOptions
from providers.catalog import ModelInfo, all_models, get_model

_KEY = "prefs"


@dataclass(frozen=True, slots=True)
class Preferences:
    """What the next video will be made with."""

    model: str
    aspect_ratio: AspectRatio
    duration_s: int

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

    def with_model(self, model_id: str) -> Preferences:
        """Switch model, keeping the aspect ratio and duration only where the new model allows them."""
        return _fit(get_model(model_id), self.aspect_ratio, self.duration_s)

    def with_aspect(self, aspect: AspectRatio) -> Preferences:
        """Change the aspect ratio (refused by the caller when the model does not offer it)."""
        return _fit(self.model_info, aspect, self.duration_s)

    def with_duration(self, duration_s: int) -> Preferences:
        """Change the duration (refused by the caller when the model does not offer it)."""
        return _fit(self.model_info, self.aspect_ratio, duration_s)


def load(user_data: Mapping[str, Any] | None, default_model: str, default_aspect: AspectRatio) -> Preferences:
    """The user's preferences, repaired against the catalog (a model may have been removed)."""
    saved = (user_data or {}).get(_KEY) or {}
    model_id = saved.get("model", default_model)
    try:
        info = get_model(model_id)
    except JobError:
        info = _default_model(default_model)
    aspect = _parse_aspect(saved.get("aspect_ratio"), default_aspect)
    return _fit(info, aspect, int(saved.get("duration_s", 0) or 0))


def save(user_data: MutableMapping[str, Any], prefs: Preferences) -> None:
    """Store preferences in ``user_data``."""
    user_data[_KEY] = {"model": prefs.model, "aspect_ratio": prefs.aspect_ratio.value, "duration_s": prefs.duration_s}


def _fit(info: ModelInfo, aspect: AspectRatio, duration_s: int) -> Preferences:
    if aspect not in info.aspect_ratios:
        aspect = info.aspect_ratios[0]
    if duration_s not in info.durations_s:
        duration_s = info.durations_s[0]
    return Preferences(model=info.id, aspect_ratio=aspect, duration_s=duration_s)


def _default_model(model_id: str) -> ModelInfo:
    try:
        return get_model(model_id)
    except JobError:
        return all_models()[0]


def _parse_aspect(value: object, default: AspectRatio) -> AspectRatio:
    try:
        return AspectRatio(str(value))
    except ValueError:
        return default
