"""The model catalog: the models offered, their options, and lookups."""

from __future__ import annotations

import pytest

from poller.errors import ErrorCode, JobError
from poller.jobs import AspectRatio, JobOptions
from providers.catalog import all_models, get_model, models_for

LANDSCAPE, PORTRAIT, SQUARE = AspectRatio.LANDSCAPE, AspectRatio.PORTRAIT, AspectRatio.SQUARE


@pytest.mark.parametrize(
    ("model_id", "provider", "durations", "ratios", "extendable"),
    [
        ("veo3", "kie_veo", (8,), (LANDSCAPE, PORTRAIT), True),
        ("veo3_fast", "kie_veo", (8,), (LANDSCAPE, PORTRAIT), True),
        ("sora-2-text-to-video", "kie_market", (10, 15), (LANDSCAPE, PORTRAIT), False),
        ("bytedance/v1-pro-text-to-video", "kie_market", (5, 10), (LANDSCAPE, PORTRAIT, SQUARE), False),
    ],
)
def test_catalog_entries(
    model_id: str,
    provider: str,
    durations: tuple[int, ...],
    ratios: tuple[AspectRatio, ...],
    extendable: bool,
) -> None:
    model = get_model(model_id)
    assert (model.provider, model.durations_s, model.aspect_ratios, model.extendable) == (
        provider,
        durations,
        ratios,
        extendable,
    )
    assert model.default_duration_s == durations[0]
    assert model.label


def test_unknown_model_is_invalid_input() -> None:
    with pytest.raises(JobError) as caught:
        get_model("veo9")
    assert caught.value.code is ErrorCode.INVALID_INPUT


def test_all_models_lists_each_id_once_with_the_veo_default_first() -> None:
    ids = [model.id for model in all_models()]
    assert len(ids) == len(set(ids))
    assert ids[0] == "veo3_fast"


def test_models_for_groups_by_provider() -> None:
    assert {model.id for model in models_for("kie_veo")} == {"veo3", "veo3_fast"}


def test_check_options_names_what_is_allowed() -> None:
    sora = get_model("sora-2-text-to-video")
    sora.check_options(JobOptions(PORTRAIT, duration_s=15))
    with pytest.raises(JobError, match=r"choose 10 s, 15 s"):
        sora.check_options(JobOptions(duration_s=8))
    with pytest.raises(JobError, match=r"choose 16:9, 9:16"):
        sora.check_options(JobOptions(SQUARE, duration_s=10))
