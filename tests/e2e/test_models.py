"""Which models are offered (``models.enabled``): /settings shows only those, a disabled model is refused in
chat and over HTTP, and a user whose saved model was disabled falls back to ``defaults.model`` with a note."""

from __future__ import annotations

import httpx
import pytest

from bot import texts
from poller.jobs import JobStatus
from sandbox.serve import free_port
from tests.e2e.conftest import ALICE, SettingsFactory, answer_to, bot_messages, first_text, running, wait_for_job_status
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
TOKEN = "t" * 40
ONLY_VEO = {"enabled": ["veo3_fast", "veo3"]}


async def messages_to(telegram: TelegramStandIn, count: int) -> list[str]:
    await telegram.emulator.wait_for_async(
        lambda: len(bot_messages(telegram, ALICE)) >= count, what=f"{count} messages"
    )
    return [first_text(message) for message in bot_messages(telegram, ALICE)]


async def press(telegram: TelegramStandIn, message_id: int, data: str) -> str | None:
    query = telegram.emulator.press_button(ALICE, message_id, ALICE, data, require_button=False)
    return await answer_to(telegram, query)


async def test_a_disabled_model_is_not_shown_refused_when_forged_and_a_saved_one_falls_back_with_a_note(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    async with running(make_settings()):
        tg.send_command(ALICE, ALICE, "settings")
        await messages_to(telegram, 1)
        menu = bot_messages(telegram, ALICE)[0]
        assert await press(telegram, menu.message_id, "set:m=bytedance/seedance-2") == texts.SETTINGS_SAVED

    port = free_port()
    settings = make_settings(models=ONLY_VEO, http={"port": port, "api_token": TOKEN})
    async with running(settings) as reelay:
        tg.send_command(ALICE, ALICE, "settings")
        [_, shown] = await messages_to(telegram, 2)
        assert shown.startswith(texts.MODEL_WITHDRAWN.format(old="Seedance 2", new="Veo 3.1 Fast"))
        menu = bot_messages(telegram, ALICE)[1]
        await press(telegram, menu.message_id, "set:model")
        await tg.wait_for_async(
            lambda: any(m.text == texts.SETTINGS_PICK_MODEL for m in bot_messages(telegram, ALICE)), what="models page"
        )
        page = next(m for m in bot_messages(telegram, ALICE) if m.text == texts.SETTINGS_PICK_MODEL)
        labels = [button["text"] for row in page.reply_markup["inline_keyboard"] for button in row]  # type: ignore[index]
        assert labels == ["✓ Veo 3.1 Fast", "Veo 3.1 Quality", texts.SETTINGS_BACK]
        assert await press(telegram, page.message_id, "set:m=kling-3.0/video:pro") == texts.BUTTON_EXPIRED

        tg.send_text(ALICE, ALICE, "a heron at dawn")
        texts_seen = await messages_to(telegram, 3)
        assert texts_seen[2] == texts.GENERATING, f"the note was shown once, with /settings: {texts_seen}"
        job = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)
        assert job.model == "veo3_fast"
        assert [sent["model"] for sent in kie.sim.submissions] == ["veo3_fast"]

        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client:
            body = {"sessionId": ALICE, "taskId": "task_elsewhere", "model": "bytedance/seedance-2", "attempt": 1}
            answer = await client.post("/webhook/poll-video", json=body)
        assert answer.status_code == 422
        assert answer.json() == {
            "error": "model: bytedance/seedance-2 is not enabled here (enabled: veo3_fast, veo3)",
            "field": "model",
        }
