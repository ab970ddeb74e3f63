"""Request checks as strict as the real KIE API, so an adapter that sends the wrong shape fails here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

VEO_MODELS = frozenset({"veo3", "veo3_fast", "veo3_lite"})
VEO_ASPECT_RATIOS = frozenset({"16:9", "9:16", "Auto"})
VEO_GENERATION_TYPES = frozenset({"TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO", "REFERENCE_2_VIDEO"})


class Invalid(ValueError):
    """A request KIE would refuse; the message is what its ``msg`` says."""


def check_veo_generate(body: Mapping[str, Any]) -> None:
    """Validate a ``/veo/generate`` body."""
    _require_prompt(body)
    model = body.get("model", "veo3_fast")
    if model not in VEO_MODELS:
        raise Invalid(f"model must be one of {', '.join(sorted(VEO_MODELS))}")
    ratios = {body[key] for key in ("aspectRatio", "aspect_ratio") if key in body}
    if len(ratios) > 1:
        raise Invalid("aspectRatio and aspect_ratio disagree")
    if ratios and not ratios <= VEO_ASPECT_RATIOS:
        raise Invalid(f"aspect ratio must be one of {', '.join(sorted(VEO_ASPECT_RATIOS))}")
    generation = body.get("generationType")
    if generation is not None and generation not in VEO_GENERATION_TYPES:
        raise Invalid("unknown generationType")
    images = body.get("imageUrls")
    if images is not None and not (
        isinstance(images, list) and 1 <= len(images) <= 3 and all(_is_url(url) for url in images)
    ):
        raise Invalid("imageUrls must be a list of 1 to 3 http(s) URLs")
    if generation == "TEXT_2_VIDEO" and images:
        raise Invalid("TEXT_2_VIDEO takes no imageUrls")
    _optional_url(body, "callBackUrl")


def check_veo_extend(body: Mapping[str, Any]) -> None:
    """Validate a ``/veo/extend`` body (the parent task is checked by the caller)."""
    _require_prompt(body)
    if not isinstance(body.get("taskId"), str) or not body["taskId"]:
        raise Invalid("taskId is required")
    _optional_url(body, "callBackUrl")


def check_market_create(body: Mapping[str, Any]) -> None:
    """Validate a ``/jobs/createTask`` body against its model's ``input`` fields."""
    model = body.get("model")
    if model not in MARKET_MODELS:
        raise Invalid(f"model {model!r} is not supported")
    inputs = body.get("input")
    if not isinstance(inputs, Mapping):
        raise Invalid("input is required")
    _require_prompt(inputs)
    MARKET_MODELS[model](inputs)
    _optional_url(body, "callBackUrl")


def _sora(inputs: Mapping[str, Any]) -> None:
    _choice(inputs, "aspect_ratio", {"landscape", "portrait"})
    _choice(inputs, "n_frames", {"10", "15"})  # strings, as documented: 10 (an int) is refused
    if "remove_watermark" in inputs and not isinstance(inputs["remove_watermark"], bool):
        raise Invalid("remove_watermark must be a boolean")


def _seedance(inputs: Mapping[str, Any]) -> None:
    _choice(inputs, "aspect_ratio", {"16:9", "9:16", "1:1", "4:3", "3:4", "21:9"})
    _choice(inputs, "duration", {"5", "10"})
    _choice(inputs, "resolution", {"480p", "720p", "1080p"})


def _prompt_only(inputs: Mapping[str, Any]) -> None:
    """Models the simulator accepts without checking their extra fields."""


MARKET_MODELS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "sora-2-text-to-video": _sora,
    "sora-2-pro-text-to-video": _sora,
    "bytedance/v1-pro-text-to-video": _seedance,
    "bytedance/v1-lite-text-to-video": _seedance,
    "kling/v2-5-turbo-text-to-video-pro": _prompt_only,
    "wan/2-6-text-to-video": _prompt_only,
    "hailuo/02-text-to-video-pro": _prompt_only,
}


def _require_prompt(body: Mapping[str, Any]) -> None:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise Invalid("prompt is required")
    if len(prompt) > 10000:
        raise Invalid("prompt is longer than 10000 characters")


def _choice(body: Mapping[str, Any], key: str, allowed: set[str]) -> None:
    if key in body and body[key] not in allowed:
        raise Invalid(f"{key} must be one of {', '.join(sorted(allowed))} (got {body[key]!r})")


def _optional_url(body: Mapping[str, Any], key: str) -> None:
    if key in body and not _is_url(body[key]):
        raise Invalid(f"{key} must be an http(s) URL")


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))
