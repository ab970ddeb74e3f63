"""The typed shapes of ``/v1``: what FastAPI validates coming in and documents in the OpenAPI document.

Answers are built by :func:`bot.http.job_view.job_view` (the one job JSON); :class:`JobView` describes it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

MAX_URL_CHARS = 2048
MAX_METADATA_BYTES = 2048
# A bound before the use case's own (limits.max_prompt_chars): no more than this is ever looked at.
MAX_PROMPT_INPUT_CHARS = 20_000

ApiStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class CreateJob(BaseModel):
    """``POST /v1/jobs``: a prompt and the options the bot offers; unset options take the model's defaults."""

    model_config = ConfigDict(extra="forbid")

    prompt: Annotated[StrictStr, Field(max_length=MAX_PROMPT_INPUT_CHARS, description="What the video shows.")]
    model: Annotated[StrictStr | None, Field(max_length=100, description="A model id from GET /v1/models.")] = None
    aspect_ratio: Literal["16:9", "9:16", "1:1"] | None = None
    duration_s: Annotated[StrictInt | None, Field(ge=1, le=600)] = None
    image_url: Annotated[
        StrictStr | None, Field(max_length=MAX_URL_CHARS, description="An https URL of the first frame.")
    ] = None
    callback_url: Annotated[
        StrictStr | None, Field(max_length=MAX_URL_CHARS, description="An https URL that receives the job's events.")
    ] = None
    metadata: Annotated[
        dict[str, Any] | None, Field(description="Any JSON object of at most 2 KB, echoed back in the job.")
    ] = None


class JobOptionsView(BaseModel):
    aspect_ratio: str
    duration_s: int
    resolution: str | None
    image_url: str | None


class JobErrorView(BaseModel):
    code: str
    message: str


class VideoView(BaseModel):
    url: str
    duration_s: float | None
    width: int | None
    height: int | None
    size_bytes: int


class JobView(BaseModel):
    """A job (the data of every SSE event and webhook too)."""

    id: str
    status: ApiStatus
    model: str
    prompt: str
    options: JobOptionsView
    metadata: dict[str, Any]
    created_at: str = Field(description="ISO 8601, UTC")
    updated_at: str = Field(description="ISO 8601, UTC")
    attempts: int
    error: JobErrorView | None
    video: VideoView | None


class JobPage(BaseModel):
    """One page of ``GET /v1/jobs``, newest first; ``next_cursor`` fetches the next, older page."""

    jobs: list[JobView]
    next_cursor: str | None


class ModelView(BaseModel):
    """A model this deployment offers."""

    id: str
    label: str
    provider: str
    inputs: list[str]
    durations_s: list[int]
    aspect_ratios: list[str]
    resolutions: list[str]
    prices: dict[str, int] | None = Field(description="Credits per video by duration (s), when credits are on")


class ModelList(BaseModel):
    models: list[ModelView]


__all__ = [
    "MAX_METADATA_BYTES",
    "MAX_URL_CHARS",
    "ApiStatus",
    "CreateJob",
    "JobPage",
    "JobView",
    "ModelList",
    "ModelView",
]
