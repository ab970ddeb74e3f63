"""The model catalog: the models offered, their options, the request fields they map onto, and lookups."""

from __future__ import annotations

import pytest

from poller.errors import ErrorCode, JobError
from poller.jobs import AspectRatio, JobOptions
from providers.catalog import Catalog, all_models, get_model, known_model, models_for

LANDSCAPE, PORTRAIT, SQUARE = AspectRatio.LANDSCAPE, AspectRatio.PORTRAIT, AspectRatio.SQUARE
IMAGE, LAST = "https://img.example/1.png", "https://img.example/2.png"


@pytest.mark.parametrize(
    ("model_id", "provider", "durations", "ratios", "extendable", "image", "last"),
    [
        ("veo3_fast", "kie_veo", (8,), (LANDSCAPE, PORTRAIT), True, True, True),
        ("veo3", "kie_veo", (8,), (LANDSCAPE, PORTRAIT), True, True, True),
        ("veo3_lite", "kie_veo", (8,), (LANDSCAPE, PORTRAIT), False, True, False),
        ("bytedance/seedance-2", "kie_market", (5, 10), (LANDSCAPE, PORTRAIT, SQUARE), False, True, True),
        ("bytedance/seedance-2-fast", "kie_market", (5, 10), (LANDSCAPE, PORTRAIT, SQUARE), False, True, True),
        ("kling-3.0/video:std", "kie_market", (5, 10), (LANDSCAPE, PORTRAIT, SQUARE), False, True, True),
        ("kling-3.0/video:pro", "kie_market", (5, 10), (LANDSCAPE, PORTRAIT, SQUARE), False, True, True),
        ("sora-2-text-to-video", "kie_market", (10, 15), (LANDSCAPE, PORTRAIT), False, True, False),
        ("bytedance/v1-pro-text-to-video", "kie_market", (5, 10), (LANDSCAPE, PORTRAIT, SQUARE), False, True, False),
    ],
)
def test_catalog_entries(
    model_id: str,
    provider: str,
    durations: tuple[int, ...],
    ratios: tuple[AspectRatio, ...],
    extendable: bool,
    image: bool,
    last: bool,
) -> None:
    model = get_model(model_id)
    assert (model.provider, model.durations_s, model.aspect_ratios, model.extendable) == (
        provider,
        durations,
        ratios,
        extendable,
    )
    assert (model.accepts_image, model.accepts_last_frame) == (image, last)
    assert model.default_duration_s == durations[0]
    assert model.label


def test_unknown_model_is_invalid_input() -> None:
    with pytest.raises(JobError) as caught:
        get_model("veo9")
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert known_model("veo9") is None


def test_all_models_lists_each_id_once_with_the_veo_default_first() -> None:
    ids = [model.id for model in all_models()]
    assert len(ids) == len(set(ids))
    assert ids[0] == "veo3_fast"


def test_models_for_groups_by_provider() -> None:
    assert {model.id for model in models_for("kie_veo")} == {"veo3", "veo3_fast", "veo3_lite"}


def test_check_options_names_what_is_allowed() -> None:
    sora = get_model("sora-2-text-to-video")
    sora.check_options(JobOptions(PORTRAIT, duration_s=15))
    with pytest.raises(JobError, match=r"choose 10 s, 15 s"):
        sora.check_options(JobOptions(duration_s=8))
    with pytest.raises(JobError, match=r"choose 16:9, 9:16"):
        sora.check_options(JobOptions(SQUARE, duration_s=10))
    with pytest.raises(JobError, match=r"choose 720p, 1080p"):
        get_model("bytedance/seedance-2").check_options(JobOptions(duration_s=5, resolution="4k"))
    with pytest.raises(JobError, match="last frame"):
        sora.check_options(JobOptions(duration_s=10, image_url=IMAGE, last_image_url=LAST))


def test_a_text_only_model_refuses_a_photo() -> None:
    catalog_model = get_model("veo3_fast")
    assert catalog_model.accepts(JobOptions(image_url=IMAGE, last_image_url=LAST))
    assert not get_model("veo3_lite").accepts(JobOptions(image_url=IMAGE, last_image_url=LAST))
    assert get_model("veo3_lite").accepts(JobOptions(image_url=IMAGE))


def test_fitted_replaces_only_what_the_model_cannot_do() -> None:
    seedance = get_model("bytedance/seedance-2")
    fitted = seedance.fitted(JobOptions(SQUARE, duration_s=8, image_url=IMAGE))
    assert (fitted.aspect_ratio, fitted.duration_s, fitted.resolution, fitted.image_url) == (SQUARE, 5, "720p", IMAGE)
    same = JobOptions(PORTRAIT, duration_s=10, resolution="1080p")
    assert seedance.fitted(same) is same


def test_provider_input_maps_options_onto_the_documented_fields() -> None:
    sora = get_model("sora-2-text-to-video")
    assert sora.provider_input("a fox", JobOptions(LANDSCAPE, duration_s=15)) == {
        "prompt": "a fox",
        "remove_watermark": True,
        "aspect_ratio": "landscape",
        "n_frames": "15",
    }
    assert sora.model_for(JobOptions(duration_s=10)) == "sora-2-text-to-video"
    assert sora.model_for(JobOptions(duration_s=10, image_url=IMAGE)) == "sora-2-image-to-video"
    kling = get_model("kling-3.0/video:pro")
    assert kling.model_for(JobOptions(image_url=IMAGE)) == "kling-3.0/video"


def test_catalog_offers_the_providers_models_except_those_off_by_default() -> None:
    catalog = Catalog()
    offered = [model.id for model in catalog.offered()]
    assert "sora-2-text-to-video" not in offered
    assert offered[0] == "veo3_fast"
    assert catalog.get("sora-2-text-to-video") is not None
    assert not catalog.is_enabled("sora-2-text-to-video")
    assert catalog.provider_for("sora-2-text-to-video") is None
    assert catalog.provider_for("veo3") == "kie_veo"
    assert all(model.accepts_image for model in catalog.taking_images())


def test_catalog_enabled_list_narrows_and_keeps_menu_order() -> None:
    catalog = Catalog(enabled=["sora-2-text-to-video", "veo3"])
    assert [model.id for model in catalog.offered()] == ["veo3", "sora-2-text-to-video"]
    with pytest.raises(ValueError, match="veo9"):
        Catalog(enabled=["veo9"])


def test_models_of_an_unconfigured_provider_are_never_offered() -> None:
    catalog = Catalog(enabled=["veo3", "bytedance/seedance-2"], providers=["kie_veo"])
    assert [model.id for model in catalog.offered()] == ["veo3"]
