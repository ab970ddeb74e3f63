"""Preferences repaired against the models offered now: a disabled model falls back to the default, once."""

from __future__ import annotations

import pytest

from bot import preferences
from poller.errors import JobError
from poller.jobs import AspectRatio
from providers.catalog import Catalog

OFFERED = Catalog(enabled=["veo3_fast", "bytedance/seedance-2"])


def test_a_new_user_gets_the_defaults_without_a_note() -> None:
    prefs = preferences.load({}, OFFERED, "veo3_fast", AspectRatio.PORTRAIT)
    assert (prefs.model, prefs.aspect_ratio, prefs.duration_s, prefs.withdrawn) == (
        "veo3_fast",
        AspectRatio.PORTRAIT,
        8,
        None,
    )


def test_a_saved_model_that_was_disabled_falls_back_with_a_note() -> None:
    saved = {"prefs": {"model": "kling-3.0/video:pro", "aspect_ratio": "1:1", "duration_s": 10}}
    prefs = preferences.load(saved, OFFERED, "veo3_fast", AspectRatio.LANDSCAPE)
    assert (prefs.model, prefs.withdrawn) == ("veo3_fast", "kling-3.0/video:pro")
    assert prefs.aspect_ratio is AspectRatio.LANDSCAPE  # 1:1 is not a Veo ratio
    preferences.save(saved, prefs)
    again = preferences.load(saved, OFFERED, "veo3_fast", AspectRatio.LANDSCAPE)
    assert again.withdrawn is None  # the note is shown once


def test_a_saved_model_that_no_longer_exists_falls_back_too() -> None:
    prefs = preferences.load({"prefs": {"model": "veo9"}}, OFFERED, "veo3_fast", AspectRatio.LANDSCAPE)
    assert (prefs.model, prefs.withdrawn) == ("veo3_fast", "veo9")
    assert preferences.label_of("veo9") == "veo9"


def test_an_enabled_model_keeps_what_it_allows() -> None:
    saved = {"prefs": {"model": "bytedance/seedance-2", "aspect_ratio": "1:1", "duration_s": "10"}}
    prefs = preferences.load(saved, OFFERED, "veo3_fast", AspectRatio.LANDSCAPE)
    assert (prefs.model, prefs.aspect_ratio, prefs.duration_s, prefs.withdrawn) == (
        "bytedance/seedance-2",
        AspectRatio.SQUARE,
        10,
        None,
    )


def test_switching_to_a_model_that_is_not_offered_is_refused() -> None:
    prefs = preferences.load({}, OFFERED, "veo3_fast", AspectRatio.LANDSCAPE)
    with pytest.raises(JobError):
        prefs.with_model("veo3", OFFERED)
    assert prefs.with_model("bytedance/seedance-2", OFFERED).duration_s == 5
