"""What the catalog says about one model: who serves it, what it accepts, and how a job's options become the
provider's request fields. The table itself is data (:mod:`providers.catalog_table`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from poller.errors import ErrorCode, JobError
from poller.jobs import AspectRatio, JobOptions

ProviderName = Literal["kie_veo", "kie_market", "fal"]
InputKind = Literal["text", "first_frame", "last_frame"]
DurationFormat = Literal["int", "str", "seconds"]  # 5, "5", "5s"

_EMPTY: Mapping[str, Any] = MappingProxyType({})
TEXT_ONLY: frozenset[InputKind] = frozenset({"text"})
FIRST_FRAME: frozenset[InputKind] = frozenset({"text", "first_frame"})
FIRST_AND_LAST: frozenset[InputKind] = frozenset({"text", "first_frame", "last_frame"})


def _no_values() -> Mapping[str, Any]:
    return _EMPTY


@dataclass(frozen=True, slots=True)
class RequestFields:
    """Where a job's options go in the provider's input (a field left None is not sent).

    The images go either into one list (``image_list``: ``[first, last]``) or into one field each
    (``first_frame``, ``last_frame``). ``constants`` are sent as they are (Kling's ``mode``)."""

    prompt: str = "prompt"
    aspect_ratio: str | None = "aspect_ratio"
    aspect_values: Mapping[str, str] = field(
        default_factory=_no_values
    )  # our ratio -> the provider's word for it (Sora: "landscape")
    duration: str | None = "duration"
    duration_format: DurationFormat = "str"
    resolution: str | None = None
    first_frame: str | None = None
    last_frame: str | None = None
    image_list: str | None = None
    constants: Mapping[str, Any] = field(default_factory=_no_values)
    image_constants: Mapping[str, Any] = field(
        default_factory=_no_values
    )  # sent only with an image (replacing constants of the same name)
    aspect_with_image: bool = True  # image-to-video endpoints that take their shape from the image say False

    def input_for(self, prompt: str, options: JobOptions, *, with_image: bool) -> dict[str, Any]:
        """The provider's input for ``prompt`` and ``options`` (images included when ``with_image``)."""
        body: dict[str, Any] = {self.prompt: prompt, **self.constants}
        if self.aspect_ratio is not None and (self.aspect_with_image or not with_image):
            ratio = options.aspect_ratio.value
            body[self.aspect_ratio] = self.aspect_values.get(ratio, ratio)
        if self.duration is not None:
            body[self.duration] = _duration(options.duration_s, self.duration_format)
        if self.resolution is not None and options.resolution:
            body[self.resolution] = options.resolution
        if with_image and options.image_url:
            body.update(self.image_constants)
            images = [options.image_url] + ([options.last_image_url] if options.last_image_url else [])
            if self.image_list is not None:
                body[self.image_list] = images
            else:
                if self.first_frame is not None:
                    body[self.first_frame] = options.image_url
                if self.last_frame is not None and options.last_image_url:
                    body[self.last_frame] = options.last_image_url
        return body


def _duration(seconds: int, form: DurationFormat) -> int | str:
    if form == "int":
        return seconds
    return f"{seconds}s" if form == "seconds" else str(seconds)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model a user can pick. ``durations_s[0]``, ``aspect_ratios[0]`` and ``resolutions[0]`` are defaults.

    ``id`` is Reelay's name for it (settings, prices, failover lists, the HTTP API); ``provider_model`` is what the
    provider calls it, and ``image_model`` the provider's image-to-video model when that is a different one."""

    id: str
    label: str
    provider: ProviderName
    durations_s: tuple[int, ...]
    aspect_ratios: tuple[AspectRatio, ...]
    inputs: frozenset[InputKind] = TEXT_ONLY
    resolutions: tuple[str, ...] = ()
    extendable: bool = False
    upscalable: bool = False
    enabled_by_default: bool = True
    provider_model: str = ""
    image_model: str = ""
    fields: RequestFields = field(default_factory=RequestFields)
    image_fields: RequestFields | None = None  # when the image-to-video model names its fields differently
    note: str = ""  # why it is off by default, or anything an operator should know

    @property
    def default_duration_s(self) -> int:
        """The duration used when the user has not chosen one."""
        return self.durations_s[0]

    @property
    def default_resolution(self) -> str | None:
        """The resolution used when none was asked for (None: the provider decides)."""
        return self.resolutions[0] if self.resolutions else None

    @property
    def accepts_image(self) -> bool:
        """Whether the model can start from a photo (image-to-video)."""
        return "first_frame" in self.inputs

    @property
    def accepts_last_frame(self) -> bool:
        """Whether the model can also end on a given photo."""
        return "last_frame" in self.inputs

    @property
    def text_model(self) -> str:
        """The provider's model id for a job without an image."""
        return self.provider_model or self.id

    def model_for(self, options: JobOptions) -> str:
        """The provider's model id for a job with ``options`` (the image-to-video one when it has an image)."""
        return (self.image_model or self.text_model) if options.image_url else self.text_model

    def provider_input(self, prompt: str, options: JobOptions) -> dict[str, Any]:
        """The provider's input fields for a job (see :class:`RequestFields`)."""
        with_image = bool(options.image_url)
        fields = self.image_fields if with_image and self.image_fields is not None else self.fields
        return fields.input_for(prompt, options, with_image=with_image)

    def accepts(self, options: JobOptions) -> bool:
        """Whether the model can take a job with ``options`` as far as its inputs go (for failover)."""
        if options.has_image and not self.accepts_image:
            return False
        return not ((options.last_image_url or options.last_image_source) and not self.accepts_last_frame)

    def check_options(self, options: JobOptions) -> None:
        """Raise ``JobError(INVALID_INPUT)`` when ``options`` ask for something this model cannot do."""
        if options.aspect_ratio not in self.aspect_ratios:
            allowed = ", ".join(ratio.value for ratio in self.aspect_ratios)
            raise _invalid(
                f"{self.label} does not support aspect ratio {options.aspect_ratio.value} (choose {allowed})"
            )
        if options.duration_s not in self.durations_s:
            allowed = ", ".join(f"{seconds} s" for seconds in self.durations_s)
            raise _invalid(f"{self.label} cannot make a {options.duration_s} s video (choose {allowed})")
        if options.resolution and self.resolutions and options.resolution not in self.resolutions:
            allowed = ", ".join(self.resolutions)
            raise _invalid(f"{self.label} cannot make {options.resolution} video (choose {allowed})")
        if options.image_url and not self.accepts_image:
            raise _invalid(f"{self.label} makes videos from words only, not from a photo")
        if options.last_image_url and not self.accepts_last_frame:
            raise _invalid(f"{self.label} cannot end on a given last frame")

    def fitted(self, options: JobOptions) -> JobOptions:
        """``options`` with the aspect ratio, duration and resolution this model cannot do replaced by its defaults."""
        aspect = options.aspect_ratio if options.aspect_ratio in self.aspect_ratios else self.aspect_ratios[0]
        duration = options.duration_s if options.duration_s in self.durations_s else self.default_duration_s
        resolution = options.resolution if options.resolution in self.resolutions else self.default_resolution
        if (aspect, duration, resolution) == (options.aspect_ratio, options.duration_s, options.resolution):
            return options
        return options.replace(aspect_ratio=aspect, duration_s=duration, resolution=resolution)


def _invalid(message: str) -> JobError:
    return JobError(ErrorCode.INVALID_INPUT, message, request_sent=False)
