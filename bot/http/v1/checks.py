"""The cheap checks on a ``POST /v1/jobs`` body that need the catalog or the settings (no I/O), and the
translation of the create use case's refusals into API errors, in the bot's words."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from bot.handlers.generate import refusal_text
from bot.http.v1.errors import ApiError, invalid
from bot.http.v1.schemas import MAX_METADATA_BYTES, CreateJob
from bot.i18n import ENGLISH  # the API speaks English
from poller.jobs import AspectRatio, JobOptions
from poller.refusals import (
    BadPrompt,
    DailyLimitReached,
    ModelNotOffered,
    NotStored,
    OutOfCredits,
    Refusal,
    TakesNoPhoto,
    TooManyInProgress,
    UnknownModel,
)
from providers.catalog import Catalog


def check_url(field: str, url: str, *, allow_http: bool) -> str:
    """An absolute https URL (http too where private addresses are allowed: tests, the sandbox). Where it points
    is checked when Reelay connects (the address policy), not here: a name may resolve differently later."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise invalid(field, "not a valid URL") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise invalid(field, "must be an https URL")
    if not host or any(ch.isspace() for ch in url):
        raise invalid(field, "not a valid URL")
    return url


def metadata_text(metadata: dict[str, Any] | None) -> str | None:
    """The metadata object as stored (compact JSON), refused over 2 KB."""
    if metadata is None:
        return None
    try:
        text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)
    except (ValueError, RecursionError):
        raise invalid("metadata", "must be a JSON object") from None
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise invalid("metadata", f"must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return text


def resolve_options(
    body: CreateJob, catalog: Catalog, *, default_model: str, default_aspect: AspectRatio, allow_http: bool
) -> tuple[str, JobOptions]:
    """The model and options the job is made with: the body's, checked against the model, else its defaults."""
    model_id = body.model
    if model_id is None:
        model_id = default_model if catalog.is_enabled(default_model) else catalog.offered()[0].id
    info = catalog.get(model_id)
    if info is None:
        raise ApiError(422, "unknown_model", f"model: {refusal_text(ENGLISH, UnknownModel(model_id))}", "model")
    if not catalog.is_enabled(info.id):
        message = refusal_text(ENGLISH, ModelNotOffered(info.id), offered=catalog.offered())
        raise ApiError(422, "model_not_offered", f"model: {message}", "model")
    if body.aspect_ratio is not None:
        aspect = AspectRatio(body.aspect_ratio)
        if aspect not in info.aspect_ratios:
            offered = ", ".join(ratio.value for ratio in info.aspect_ratios)
            raise invalid("aspect_ratio", f"{info.label} makes {offered}")
    else:
        aspect = default_aspect if default_aspect in info.aspect_ratios else info.aspect_ratios[0]
    duration = body.duration_s if body.duration_s is not None else info.default_duration_s
    if duration not in info.durations_s:
        offered = ", ".join(str(seconds) for seconds in info.durations_s)
        raise invalid("duration_s", f"{info.label} makes videos of {offered} seconds")
    image = check_url("image_url", body.image_url, allow_http=allow_http) if body.image_url else None
    return info.id, JobOptions(aspect_ratio=aspect, duration_s=duration, image_source=image)


def refusal_error(refusal: Refusal, catalog: Catalog) -> ApiError:
    """The API's answer to a refusal of the create use case (the message is the bot's)."""
    message = refusal_text(ENGLISH, refusal, offered=catalog.offered())
    match refusal:
        case BadPrompt():
            return ApiError(422, "invalid_prompt", f"prompt: {message}", "prompt")
        case UnknownModel():
            return ApiError(422, "unknown_model", f"model: {message}", "model")
        case ModelNotOffered():
            return ApiError(422, "model_not_offered", f"model: {message}", "model")
        case TakesNoPhoto():
            return ApiError(422, "takes_no_photo", f"image_url: {message}", "image_url")
        case OutOfCredits():
            # 402: the request is fine and may succeed once the user's balance is topped up.
            return ApiError(402, "insufficient_credits", message)
        case TooManyInProgress():
            return ApiError(429, "too_many_in_progress", message, headers={"Retry-After": "30"})
        case DailyLimitReached(_, resets_at):
            wait = max(1, int(resets_at - time.time()))
            return ApiError(429, "daily_limit_reached", message, headers={"Retry-After": str(wait)})
        case NotStored():
            return ApiError(503, "not_stored", message, headers={"Retry-After": "5"})
        case _:
            return ApiError(422, "refused", message)
