"""Cheap checks on what users send: prompts and button data."""

from __future__ import annotations

import pytest

from bot import texts
from bot.callback_data import Action, ButtonData, parse
from bot.i18n import ENGLISH, translator
from bot.validation import prompt_problem
from poller.errors import ErrorCode


@pytest.mark.parametrize(
    ("prompt", "problem"),
    [
        ("", texts.PROMPT_EMPTY),
        ("   \n ", texts.PROMPT_EMPTY),
        ("a" * 101, texts.prompt_too_long(ENGLISH, 100, 101)),
        ("a fox\x00 in snow", texts.PROMPT_CONTROL_CHARS),
        ("a fox\x1b[31m", texts.PROMPT_CONTROL_CHARS),
        ("a fox \udcff in snow", texts.PROMPT_NOT_TEXT),
        ("a fox \ud83c", texts.PROMPT_NOT_TEXT),
        ("a fox \ufdd0", texts.PROMPT_NOT_TEXT),
        ("a fox \ufffe", texts.PROMPT_NOT_TEXT),
        ("a fox \U0001ffff", texts.PROMPT_NOT_TEXT),
    ],
)
def test_bad_prompt_says_what_to_fix(prompt: str, problem: str) -> None:
    assert prompt_problem(prompt, max_chars=100) == problem


@pytest.mark.parametrize(
    "prompt",
    [
        "a fox in snow",
        "line one\nline two\tindented",
        "日本語のプロンプト 🎬",
        "a" * 100,
        "zero\u200bwidth",
        "\ue000 private use",
    ],
)
def test_good_prompt_passes(prompt: str) -> None:
    assert prompt_problem(prompt, max_chars=100) is None


def test_too_long_message_names_both_numbers() -> None:
    assert "2000" in texts.prompt_too_long(ENGLISH, 2000, 2345)
    assert "2345" in texts.prompt_too_long(ENGLISH, 2000, 2345)


def test_button_data_round_trips() -> None:
    for data in (
        ButtonData(Action.PUBLISH, "AbC_123-xyz"),
        ButtonData(Action.UPGRADE_1080P, "AbC_123-xyz"),
        ButtonData(Action.UPGRADE_4K, "AbC_123-xyz"),
        ButtonData(Action.SETTINGS, "m=veo3"),
        ButtonData(Action.LANGUAGE, "ru"),
        ButtonData(Action.LANGUAGE),
        ButtonData(Action.NOOP),
    ):
        assert parse(data.encode()) == data


def test_longest_settings_button_fits_telegram_limit() -> None:
    data = ButtonData(Action.SETTINGS, "m=bytedance/v1-pro-text-to-video").encode()
    assert len(data.encode()) <= 64


def test_oversized_button_data_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        ButtonData(Action.SETTINGS, "x" * 70).encode()


@pytest.mark.parametrize(
    "forged",
    [
        None,
        "",
        "pub",
        "pub:",
        "pub:../../etc",
        "pub:a b",
        "delete:abcdefgh",
        "x" * 65,
        "pub:" + "a" * 40,
        "u1080",
        "u4k:",
        "u4k:a/b/c/d/e",
        "u8k:AbC_123-xyz",
        "lang:russian",
        "lang:r",
        "lang:../x",
    ],
)
def test_forged_button_data_is_rejected(forged: str | None) -> None:
    assert parse(forged) is None


def test_extend_question_carries_the_video_id_and_nothing_else_matches() -> None:
    question = texts.extend_question(ENGLISH, "AbC_123-xyz")

    assert texts.extended_job_id(question) == "AbC_123-xyz"
    assert texts.extended_job_id("a fox (video AbC_123-xyz)") is None, "only our own question counts"
    assert texts.extended_job_id(texts.EXTEND_ASK) is None
    assert texts.extended_job_id(None) is None


@pytest.mark.parametrize("language", ["ru", "es"])
def test_a_question_asked_in_any_shipped_language_is_recognised(language: str) -> None:
    """The user may switch language between our question and their reply: the question is ours in any language."""
    asked = translator(language)

    assert texts.extended_job_id(texts.extend_question(asked, "AbC_123-xyz")) == "AbC_123-xyz"
    assert texts.photo_token(texts.photo_question(asked, "Tok_123-xyz")) == "Tok_123-xyz"
    assert not texts.extend_question(asked, "AbC_123-xyz").startswith(texts.EXTEND_ASK), "asked in the language"


@pytest.mark.parametrize(
    ("seconds_left", "wait"), [(11_100, "3 hr 5 min"), (3600, "1 hr"), (59 * 60 + 1, "1 hr"), (30, "1 min")]
)
def test_the_daily_limit_says_when_the_next_utc_day_starts(seconds_left: float, wait: str) -> None:
    text = texts.daily_limit(ENGLISH, 5, seconds_left)

    assert (
        text
        == f"You have made 5 videos today, the most allowed per day. You can make more in {wait} (at midnight UTC)."
    )


def test_the_daily_limit_speaks_russian_with_its_plural_forms() -> None:
    russian = translator("ru")

    assert "3 ч 5 мин" in texts.daily_limit(russian, 5, 11_100)
    assert "5 видео" in texts.daily_limit(russian, 5, 60)


def test_the_photo_question_carries_its_token_and_only_it_counts() -> None:
    question = texts.photo_question(ENGLISH, "Tok_123-xyz")
    assert texts.photo_token(question) == "Tok_123-xyz"
    assert texts.photo_token("a fox (photo Tok_123-xyz)") is None, "only our own question counts"
    assert texts.photo_token(texts.extend_question(ENGLISH, "Tok_123-xyz")) is None
    assert texts.extended_job_id(question) is None


def test_photo_refusals_say_what_to_send() -> None:
    assert texts.not_a_photo(ENGLISH, "PDF") == "This file is a PDF; send a JPEG, PNG or WebP photo."
    assert texts.not_a_photo(ENGLISH, None) == "This file is not a photo; send a JPEG, PNG or WebP photo."
    assert (
        texts.photo_too_small(ENGLISH, 200, 150, 300)
        == "This photo is 200×150; send one at least 300 px on its short side."
    )
    assert (
        texts.photo_too_large(ENGLISH, 12 * 1024 * 1024, 10 * 1024 * 1024)
        == "This photo is 12.0 MB; send one of at most 10.0 MB."
    )


def test_a_job_failed_for_its_photo_says_so_and_other_failures_keep_their_words() -> None:
    assert texts.ended_message(ENGLISH, ErrorCode.INVALID_INPUT, "photo: 200x150, under 300 px") == texts.PHOTO_FAILED
    assert texts.ended_message(ENGLISH, ErrorCode.INVALID_INPUT, "prompt refused") == texts.error_message(
        ENGLISH, ErrorCode.INVALID_INPUT
    )
    assert texts.ended_message(ENGLISH, ErrorCode.TIMEOUT, None) == texts.error_message(ENGLISH, ErrorCode.TIMEOUT)
