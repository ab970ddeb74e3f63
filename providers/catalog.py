"""The model catalog: which video models Reelay offers, who serves them, and what each accepts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from poller.errors import ErrorCode, JobError
from poller.jobs import AspectRatio, JobOptions

ProviderName = Literal["kie_veo", "kie_market"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model a user can pick. ``durations_s[0]`` is the default duration."""

    id: str
    label: str
    provider: ProviderName
    durations_s: tuple[int, ...]
    aspect_ratios: tuple[AspectRatio, ...]
    extendable: bool = False

    @property
    def default_duration_s(self) -> int:
        """The duration used when the user has not chosen one."""
        return self.durations_s[0]

    def check_options(self, options: JobOptions) -> None:
        """Raise ``JobError(INVALID_INPUT)`` when ``options`` ask for something this model cannot do."""
        if options.aspect_ratio not in self.aspect_ratios:
            allowed = ", ".join(ratio.value for ratio in self.aspect_ratios)
            raise JobError(
                ErrorCode.INVALID_INPUT,
                f"{self.label} does not support aspect ratio {options.aspect_ratio.value} (choose {allowed})",
                request_sent=False,
            )
        if options.duration_s not in self.durations_s:
            allowed = ", ".join(f"{seconds} s" for seconds in self.durations_s)
            raise JobError(
                ErrorCode.INVALID_INPUT,
                f"{self.label} cannot make a {options.duration_s} s video (choose {allowed})",
                request_sent=False,
            )


_WIDE_TALL = (AspectRatio.LANDSCAPE, AspectRatio.PORTRAIT)

_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("veo3_fast", "Veo 3 Fast", "kie_veo", (8,), _WIDE_TALL, extendable=True),
    ModelInfo("veo3", "Veo 3", "kie_veo", (8,), _WIDE_TALL, extendable=True),
    ModelInfo("sora-2-text-to-video", "Sora 2", "kie_market", (10, 15), _WIDE_TALL),
    ModelInfo(
        "bytedance/v1-pro-text-to-video",
        "Seedance 1 Pro",
        "kie_market",
        (5, 10),
        (*_WIDE_TALL, AspectRatio.SQUARE),
    ),
)
_BY_ID = {model.id: model for model in _MODELS}


def get_model(model_id: str) -> ModelInfo:
    """The catalog entry for ``model_id``; ``JobError(INVALID_INPUT)`` when there is none."""
    try:
        return _BY_ID[model_id]
    except KeyError:
        raise JobError(ErrorCode.INVALID_INPUT, f"unknown model {model_id!r}", request_sent=False) from None


def all_models() -> tuple[ModelInfo, ...]:
    """Every model, in the order a menu should show them (the first is the default)."""
    return _MODELS


def models_for(provider: str) -> tuple[ModelInfo, ...]:
    """The models one provider adapter serves."""
    return tuple(model for model in _MODELS if model.provider == provider)
