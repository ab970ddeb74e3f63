"""The catalog as data: every model Reelay can offer, in menu order (the first is the default).

Adding a KIE Market (or fal) model is a row here: its ids, what it accepts, and where each option goes in the
provider's input (:class:`~providers.model_info.RequestFields`). Sources for every field: ``docs/providers.md``.
"""

from __future__ import annotations

from types import MappingProxyType

from poller.jobs import AspectRatio
from providers.model_info import FIRST_AND_LAST, FIRST_FRAME, ModelInfo, RequestFields

_WIDE_TALL = (AspectRatio.LANDSCAPE, AspectRatio.PORTRAIT)
_WIDE_TALL_SQUARE = (AspectRatio.LANDSCAPE, AspectRatio.PORTRAIT, AspectRatio.SQUARE)

# KIE Veo 3.1 (/api/v1/veo/generate): the adapter adds model, generationType and the aspect ratio's two spellings.
_VEO_FIELDS = RequestFields(duration=None, image_list="imageUrls")

# KIE Market, Seedance 2: one field per frame, duration an int, audio on (as Veo's is).
_SEEDANCE_2_FIELDS = RequestFields(
    duration_format="int",
    resolution="resolution",
    first_frame="first_frame_url",
    last_frame="last_frame_url",
    constants=MappingProxyType({"generate_audio": True}),
)


def _kling_3_fields(mode: str) -> RequestFields:
    # KIE Market, Kling 3.0: first and last frame in one list; one prompt, one shot.
    return RequestFields(
        image_list="image_urls",
        constants=MappingProxyType({"mode": mode, "sound": True, "multi_shots": False}),
    )


KIE_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        "veo3_fast",
        "Veo 3.1 Fast",
        "kie_veo",
        (8,),
        _WIDE_TALL,
        inputs=FIRST_AND_LAST,
        extendable=True,
        upscalable=True,
        fields=_VEO_FIELDS,
    ),
    ModelInfo(
        "veo3",
        "Veo 3.1 Quality",
        "kie_veo",
        (8,),
        _WIDE_TALL,
        inputs=FIRST_AND_LAST,
        extendable=True,
        upscalable=True,
        fields=_VEO_FIELDS,
    ),
    ModelInfo(
        "veo3_lite",
        "Veo 3.1 Lite",
        "kie_veo",
        (8,),
        _WIDE_TALL,
        inputs=FIRST_FRAME,
        fields=_VEO_FIELDS,
        note="the cheapest Veo: words or one photo; not extendable or upscalable",
    ),
    ModelInfo(
        "bytedance/seedance-2",
        "Seedance 2",
        "kie_market",
        (5, 10),
        _WIDE_TALL_SQUARE,
        inputs=FIRST_AND_LAST,
        resolutions=("720p", "1080p"),
        fields=_SEEDANCE_2_FIELDS,
    ),
    ModelInfo(
        "bytedance/seedance-2-fast",
        "Seedance 2 Fast",
        "kie_market",
        (5, 10),
        _WIDE_TALL_SQUARE,
        inputs=FIRST_AND_LAST,
        resolutions=("720p", "1080p"),
        fields=_SEEDANCE_2_FIELDS,
    ),
    ModelInfo(
        "kling-3.0/video:std",
        "Kling 3.0",
        "kie_market",
        (5, 10),
        _WIDE_TALL_SQUARE,
        inputs=FIRST_AND_LAST,
        provider_model="kling-3.0/video",
        fields=_kling_3_fields("std"),
    ),
    ModelInfo(
        "kling-3.0/video:pro",
        "Kling 3.0 Pro",
        "kie_market",
        (5, 10),
        _WIDE_TALL_SQUARE,
        inputs=FIRST_AND_LAST,
        provider_model="kling-3.0/video",
        fields=_kling_3_fields("pro"),
    ),
    ModelInfo(
        "bytedance/v1-pro-text-to-video",
        "Seedance 1 Pro",
        "kie_market",
        (5, 10),
        _WIDE_TALL_SQUARE,
        inputs=FIRST_FRAME,
        resolutions=("720p", "1080p"),
        image_model="bytedance/v1-pro-image-to-video",
        # The image-to-video model takes its shape from the photo: no aspect_ratio there.
        fields=RequestFields(resolution="resolution", first_frame="image_url", aspect_with_image=False),
    ),
    ModelInfo(
        "sora-2-text-to-video",
        "Sora 2",
        "kie_market",
        (10, 15),
        _WIDE_TALL,
        inputs=FIRST_FRAME,
        enabled_by_default=False,
        image_model="sora-2-image-to-video",
        fields=RequestFields(
            aspect_values=MappingProxyType({"16:9": "landscape", "9:16": "portrait"}),
            duration="n_frames",
            image_list="image_urls",
            constants=MappingProxyType({"remove_watermark": True}),
        ),
        note="OpenAI shut the Sora 2 API down on 2026-09-24; KIE still lists it, but whether it works is unconfirmed",
    ),
)

# fal.ai (queue API, provider-apis.md §8): Reelay's id is fal's text-to-video endpoint id, ``image_model`` its
# image-to-video endpoint (the photo goes in ``image_url``). Off unless providers.fal is configured.
_FAL_VEO_FIELDS = RequestFields(
    duration_format="seconds",  # "8s"
    first_frame="image_url",
    constants=MappingProxyType({"generate_audio": True}),
)
# Kling 2.5 Turbo Pro: duration "5" / "10"; the image-to-video endpoint takes its shape from the photo.
_FAL_KLING_FIELDS = RequestFields(first_frame="image_url", aspect_with_image=False)
_FAL_SEEDANCE_FIELDS = RequestFields(
    resolution="resolution", first_frame="image_url", last_frame="end_image_url", aspect_with_image=False
)
# Hailuo 02 Pro makes 6 s of 1080p whatever it is asked: no duration, ratio or resolution fields.
_FAL_HAILUO_FIELDS = RequestFields(
    aspect_ratio=None,
    duration=None,
    first_frame="image_url",
    last_frame="end_image_url",
    constants=MappingProxyType({"prompt_optimizer": True}),
)

FAL_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        "fal-ai/veo3/fast",
        "Veo 3 Fast · fal",
        "fal",
        (8,),
        _WIDE_TALL,
        inputs=FIRST_FRAME,
        image_model="fal-ai/veo3/fast/image-to-video",
        fields=_FAL_VEO_FIELDS,
    ),
    ModelInfo(
        "fal-ai/veo3",
        "Veo 3 · fal",
        "fal",
        (8,),
        _WIDE_TALL,
        inputs=FIRST_FRAME,
        image_model="fal-ai/veo3/image-to-video",
        fields=_FAL_VEO_FIELDS,
    ),
    ModelInfo(
        "fal-ai/kling-video/v2.5-turbo/pro/text-to-video",
        "Kling 2.5 Turbo Pro · fal",
        "fal",
        (5, 10),
        _WIDE_TALL_SQUARE,
        inputs=FIRST_FRAME,
        image_model="fal-ai/kling-video/v2.5-turbo/pro/image-to-video",
        fields=_FAL_KLING_FIELDS,
    ),
    ModelInfo(
        "fal-ai/bytedance/seedance/v1/pro/text-to-video",
        "Seedance 1 Pro · fal",
        "fal",
        (5, 10),
        _WIDE_TALL_SQUARE,
        inputs=FIRST_AND_LAST,
        resolutions=("1080p", "720p"),
        image_model="fal-ai/bytedance/seedance/v1/pro/image-to-video",
        fields=_FAL_SEEDANCE_FIELDS,
    ),
    ModelInfo(
        "fal-ai/minimax/hailuo-02/pro/text-to-video",
        "Hailuo 02 Pro · fal",
        "fal",
        (6,),
        (AspectRatio.LANDSCAPE,),
        inputs=FIRST_AND_LAST,
        image_model="fal-ai/minimax/hailuo-02/pro/image-to-video",
        fields=_FAL_HAILUO_FIELDS,
        note="6 s of 1080p, landscape; the image-to-video endpoint takes its shape from the photo",
    ),
)

MODELS: tuple[ModelInfo, ...] = KIE_MODELS + FAL_MODELS
