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
    if generation == "FIRST_AND_LAST_FRAMES_2_VIDEO" and not (isinstance(images, list) and 1 <= len(images) <= 2):
        raise Invalid("FIRST_AND_LAST_FRAMES_2_VIDEO takes imageUrls: one first frame, or a first and a last frame")
    if generation == "REFERENCE_2_VIDEO" and model == "veo3":
        raise Invalid("REFERENCE_2_VIDEO is for veo3_fast and veo3_lite only")
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


def _sora_image(inputs: Mapping[str, Any]) -> None:
    _sora(inputs)
    _url_list(inputs, "image_urls", 1, 1, required=True)


def _seedance_image(inputs: Mapping[str, Any]) -> None:
    if "aspect_ratio" in inputs:
        raise Invalid("aspect_ratio is not an input of the image-to-video model")
    _choice(inputs, "duration", {"5", "10"})
    _choice(inputs, "resolution", {"480p", "720p", "1080p"})
    if not _is_url(inputs.get("image_url")):
        raise Invalid("image_url is required and must be an http(s) URL")


def _seedance_2(inputs: Mapping[str, Any]) -> None:
    _choice(inputs, "aspect_ratio", {"16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"})
    _choice(inputs, "resolution", {"480p", "720p", "1080p"})
    duration = inputs.get("duration")
    if duration is not None and (type(duration) is not int or not 4 <= duration <= 15):
        raise Invalid("duration must be an integer from 4 to 15")
    for key in ("first_frame_url", "last_frame_url"):
        _optional_url(inputs, key)
    if "last_frame_url" in inputs and "first_frame_url" not in inputs:
        raise Invalid("last_frame_url needs first_frame_url")
    _flag(inputs, "generate_audio")


def _kling_3(inputs: Mapping[str, Any]) -> None:
    if inputs.get("mode") not in ("std", "pro"):
        raise Invalid("mode must be std or pro")
    _choice(inputs, "aspect_ratio", {"16:9", "9:16", "1:1"})
    _choice(inputs, "duration", {str(seconds) for seconds in range(3, 16)})
    _url_list(inputs, "image_urls", 1, 2)
    _flag(inputs, "sound")
    _flag(inputs, "multi_shots")


def _prompt_only(inputs: Mapping[str, Any]) -> None:
    """Models the simulator accepts without checking their extra fields."""


MARKET_MODELS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "sora-2-text-to-video": _sora,
    "sora-2-image-to-video": _sora_image,
    "sora-2-pro-text-to-video": _sora,
    "bytedance/v1-pro-text-to-video": _seedance,
    "bytedance/v1-pro-image-to-video": _seedance_image,
    "bytedance/v1-lite-text-to-video": _seedance,
    "bytedance/seedance-2": _seedance_2,
    "bytedance/seedance-2-fast": _seedance_2,
    "kling-3.0/video": _kling_3,
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


def _flag(body: Mapping[str, Any], key: str) -> None:
    if key in body and not isinstance(body[key], bool):
        raise Invalid(f"{key} must be a boolean")


def _url_list(body: Mapping[str, Any], key: str, least: int, most: int, *, required: bool = False) -> None:
    if key not in body:
        if required:
            raise Invalid(f"{key} is required")
        return
    urls = body[key]
    if not (isinstance(urls, list) and least <= len(urls) <= most and all(_is_url(url) for url in urls)):
        raise Invalid(f"{key} must be a list of {least} to {most} http(s) URLs")


def _optional_url(body: Mapping[str, Any], key: str) -> None:
    if key in body and not _is_url(body[key]):
        raise Invalid(f"{key} must be an http(s) URL")


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))
