"""The user's language against the Telegram stand-in: a Russian Telegram app gets Russian acks, statuses, captions
and buttons, even when another process delivers the video; /language switches and is kept across a restart."""

from __future__ import annotations

import json

import pytest

from bot import texts
from bot.app import Reelay, Role
from bot.i18n import translator
from poller.jobs import JobStatus
from tests.e2e.conftest import (
    ALICE,
    SettingsFactory,
    bot_messages,
    button_data,
    first_text,
    running,
    videos_in,
    wait_for_job_status,
)
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
IVAN = 4242
RU = translator("ru")
ES = translator("es")


def _commands(value: object) -> list[dict[str, str]]:
    return json.loads(value) if isinstance(value, str) else value  # type: ignore[return-value]


def _labels(markup: object) -> list[str]:
    rows = markup["inline_keyboard"] if isinstance(markup, dict) else []
    return [button["text"] for row in rows for button in row]


async def test_a_russian_app_gets_russian_acks_statuses_captions_and_buttons_from_either_process(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    assert RU(texts.GENERATING) != texts.GENERATING, "the Russian catalog is loaded"
    tg = telegram.emulator
    tg.add_user(IVAN, "Alice", language_code="ru")
    settings = make_settings()
    # The bot answers; only the poller delivers: the language travels with the job through Redis.
    bot, poller = Reelay(settings, Role.BOT), Reelay(settings, Role.POLLER)
    await bot.start()
    await poller.start()
    try:
        tg.send_text(IVAN, IVAN, "лиса бежит по снегу [polls=2]")
        ack = await tg.wait_for_async(lambda: next(iter(bot_messages(telegram, IVAN)), None), what="the ack")
        assert first_text(ack) == RU(texts.GENERATING)
        assert RU(texts.CANCEL) in _labels(ack.history[0].reply_markup if ack.history else ack.reply_markup)

        [video] = await tg.wait_for_async(lambda: videos_in(telegram, IVAN) or None, timeout=20, what="the video")
        caption = video.caption or ""
        assert caption.startswith("🎬 ")
        assert RU(texts.CAPTION_MADE_IN, duration="").strip() in caption, caption
        assert RU(texts.PUBLISH) in _labels(video.reply_markup)
        job = await wait_for_job_status(bot, IVAN, JobStatus.SUCCEEDED)
        status = tg.message(IVAN, ack.message_id)
        assert status is not None
        assert status.text == texts.status_message(RU, JobStatus.SUCCEEDED)
        shown = [snapshot.text for snapshot in status.history] + [status.text]
        assert texts.status_message(RU, JobStatus.RUNNING) in shown, "the poller's status edits speak Russian"
        assert all(text is None or "Video" not in text for text in shown), shown
        assert f"pub:{job.id}" in [button.get("callback_data") for button in video.buttons]
    finally:
        await poller.stop()
        await bot.stop()


async def test_language_picks_from_buttons_and_the_choice_survives_a_restart(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    assert ES(texts.LANGUAGE_SAVED) != texts.LANGUAGE_SAVED, "the Spanish catalog is loaded"
    tg = telegram.emulator
    async with running(make_settings()):
        tg.send_text(ALICE, ALICE, "/language")
        picker = await tg.wait_for_async(lambda: next(iter(bot_messages(telegram, ALICE)), None), what="the picker")
        assert picker.text == texts.LANGUAGE_PICK
        buttons = button_data(picker)
        assert set(buttons) == {"✓ English", "Русский", "Español"}, "each language named in itself, English ticked"

        tg.press_button(ALICE, picker.message_id, ALICE, buttons["Español"])
        await tg.wait_for_async(
            lambda: (tg.message(ALICE, picker.message_id).text or "") == ES(texts.LANGUAGE_SAVED),  # type: ignore[union-attr]
            what="the picker edited, in Spanish",
        )
        tg.press_button(ALICE, picker.message_id, ALICE, "lang:xx", require_button=False)
        tg.send_text(ALICE, ALICE, "un zorro en la nieve [polls=1]")
        await tg.wait_for_async(
            lambda: any(first_text(m) == ES(texts.GENERATING) for m in bot_messages(telegram, ALICE)),
            what="the ack in Spanish, whatever the app's language",
        )
        await tg.wait_for_async(lambda: videos_in(telegram, ALICE) or None, timeout=20, what="the video")

    async with running(make_settings()):
        tg.send_text(ALICE, ALICE, "/help")
        await tg.wait_for_async(
            lambda: bot_messages(telegram, ALICE)[-1].text == ES(texts.HELP), what="/help in Spanish after a restart"
        )
        tg.send_text(ALICE, ALICE, "/language")
        picker = await tg.wait_for_async(
            lambda: next(
                (m for m in reversed(bot_messages(telegram, ALICE)) if m.text == ES(texts.LANGUAGE_PICK)), None
            ),
            what="the picker in Spanish",
        )
        assert "✓ Español" in button_data(picker)


async def test_the_command_menu_is_set_in_every_shipped_language(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    async with running(make_settings()):
        calls = telegram.emulator.calls("setMyCommands")
        by_language = {call.params.get("language_code"): _commands(call.params["commands"]) for call in calls}
        assert set(by_language) >= {None, "ru", "es"}
        russian = {command["command"]: command["description"] for command in by_language["ru"]}
        assert russian["language"] == RU("The bot's language")
        assert {"video", "history", "buy", "language", "help"} <= set(russian)


async def test_settings_show_the_language_and_open_the_picker_in_place(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    tg = telegram.emulator
    tg.add_user(IVAN, "Alice", language_code="ru-RU")
    async with running(make_settings()):
        tg.send_text(IVAN, IVAN, "/settings")
        menu = await tg.wait_for_async(lambda: next(iter(bot_messages(telegram, IVAN)), None), what="/settings")
        assert (menu.text or "").endswith(RU(texts.SETTINGS_LANGUAGE_LINE, language="Русский")), menu.text
        tg.press_button(IVAN, menu.message_id, IVAN, button_data(menu)[RU(texts.SETTINGS_LANGUAGE)])
        await tg.wait_for_async(
            lambda: (tg.message(IVAN, menu.message_id).text or "") == RU(texts.LANGUAGE_PICK),  # type: ignore[union-attr]
            what="the picker, in place of the menu",
        )
        picker = tg.message(IVAN, menu.message_id)
        assert picker is not None
        assert "✓ Русский" in button_data(picker)


async def test_the_operators_own_words_come_in_the_users_language_where_configured(
    make_settings: SettingsFactory, telegram: TelegramStandIn
) -> None:
    pack = {"id": "p100", "credits": 100, "stars": 50, "label": "100 credits", "label_translations": {"ru": "100 кр."}}
    settings = make_settings(
        credits={"enabled": True, "initial_balance": 0, "packs": [pack]},
        payments={"terms_text": "Terms", "terms_text_translations": {"ru": "Условия"}},
    )
    tg = telegram.emulator
    tg.add_user(IVAN, "Alice", language_code="ru")
    async with running(settings):
        tg.send_text(IVAN, IVAN, "/terms")
        tg.send_text(ALICE, ALICE, "/terms")
        await tg.wait_for_async(
            lambda: (
                [m.text for m in bot_messages(telegram, IVAN)] == ["Условия"]
                and [m.text for m in bot_messages(telegram, ALICE)] == ["Terms"]
            ),
            what="/terms in each one's language",
        )
        tg.send_text(IVAN, IVAN, "/buy")
        menu = await tg.wait_for_async(
            lambda: next((m for m in bot_messages(telegram, IVAN) if m.text == RU(texts.BUY_MENU)), None),
            what="the packs, in Russian",
        )
        [button] = menu.buttons
        assert button["text"] == texts.pack_button("100 кр.", 50)
        tg.press_button(IVAN, menu.message_id, IVAN, button["callback_data"])
        invoice = await tg.wait_for_async(
            lambda: next((m for m in bot_messages(telegram, IVAN) if m.invoice is not None), None), what="the invoice"
        )
        assert invoice.invoice is not None
        assert invoice.invoice["title"] == "100 кр."
        assert invoice.invoice["description"] == RU.plural(texts.INVOICE_DESCRIPTION, 100, credits=100)
