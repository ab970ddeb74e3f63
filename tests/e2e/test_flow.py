"""A person's whole path: prompt, instant ack, video with buttons, Publish, Extend; and a restart."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot import texts
from bot.app import Reelay
from bot.i18n import ENGLISH
from poller.errors import ErrorCode
from poller.jobs import JobStatus
from tests.e2e.conftest import (
    ALICE,
    BOB,
    SettingsFactory,
    answer_to,
    bot_messages,
    button_data,
    first_text,
    running,
    videos_in,
    wait_for_job_status,
)
from tests.fixtures.kie import KieStandIn
from tests.fixtures.s3_server import S3Server
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e


async def test_prompt_to_video_then_publish_and_extend(
    reelay: Reelay, telegram: TelegramStandIn, kie: KieStandIn, s3_server: S3Server, s3_bucket: str
) -> None:
    tg = telegram.emulator
    tg.send_text(ALICE, ALICE, "A red fox running through fresh snow at sunrise [polls=2]")

    ack = await tg.wait_for_async(
        lambda: next((m for m in bot_messages(telegram, ALICE) if first_text(m) == texts.GENERATING), None),
        what="the instant ack",
    )
    # The ack went out before the provider heard of the job.
    ack_call = next(c for c in tg.calls("sendMessage") if c.params.get("text") == texts.GENERATING)
    task = await tg.wait_for_async(lambda: next(iter(kie.sim.tasks.values()), None), what="the provider task")
    assert ack_call.at <= task.created_at

    preview = await tg.wait_for_async(lambda: next(iter(videos_in(telegram, ALICE)), None), timeout=20, what="video")
    assert preview.video is not None
    assert preview.caption is not None
    assert preview.caption.startswith("🎬 Veo 3.1 Fast")
    buttons = button_data(preview)
    assert set(buttons) == {texts.PUBLISH, texts.EXTEND}
    assert all(len(data.encode()) <= 64 for data in buttons.values())

    # The status message is edited to its final state right after the video goes out.
    await tg.wait_for_async(
        lambda: (tg.message(ALICE, ack.message_id) or ack).text == texts.status_message(ENGLISH, JobStatus.SUCCEEDED),
        what="the final status edit",
    )
    assert kie.sim.submissions[0]["prompt"].startswith("A red fox")
    stored = s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [obj["Size"] for obj in stored] == [preview.video.file_size]

    # Publish: posted to the channel by file_id (no second upload), the button marked done.
    tg.press_button(ALICE, preview.message_id, ALICE, buttons[texts.PUBLISH])
    post = await tg.wait_for_async(lambda: next(iter(videos_in(telegram, telegram.channel_id)), None), what="post")
    assert post.video is not None
    assert post.video.file_id == preview.video.file_id
    channel_send = [c for c in tg.calls("sendVideo") if str(c.params.get("chat_id")) == str(telegram.channel_id)]
    assert channel_send[0].params["video"] == preview.video.file_id
    marked = await tg.wait_for_async(
        lambda: texts.PUBLISHED in button_data(tg.message(ALICE, preview.message_id) or preview), what="done mark"
    )
    assert marked

    # A second press (a stale keyboard, a double tap) posts nothing more.
    query = tg.press_button(ALICE, preview.message_id, ALICE, buttons[texts.PUBLISH], require_button=False)
    assert await answer_to(telegram, query) == texts.PUBLISH_ALREADY
    assert len(videos_in(telegram, telegram.channel_id)) == 1

    # Extend: a ForceReply question, the user's reply, a child job on the Veo extend endpoint.
    tg.press_button(ALICE, preview.message_id, ALICE, buttons[texts.EXTEND])
    question = await tg.wait_for_async(
        lambda: next((m for m in bot_messages(telegram, ALICE) if texts.extended_job_id(m.text)), None),
        what="question",
    )
    assert (question.reply_markup or {}).get("force_reply") is True
    tg.send_text(ALICE, ALICE, "The fox leaps into a frozen river [polls=1]", reply_to_message_id=question.message_id)

    await tg.wait_for_async(lambda: len(videos_in(telegram, ALICE)) == 2, timeout=20, what="the extended video")
    extend_body = kie.sim.submissions[1]
    assert extend_body["taskId"] == task.id
    assert extend_body["prompt"].startswith("The fox leaps")
    assert len(tg.calls("sendVideo")) == 3  # two previews and one channel post


async def test_only_the_owner_can_press_a_videos_buttons(reelay: Reelay, telegram: TelegramStandIn) -> None:
    tg = telegram.emulator
    group = tg.add_group("Friends")
    tg.send_text(group, ALICE, "/video a lighthouse in a storm")
    preview = await tg.wait_for_async(lambda: next(iter(videos_in(telegram, group)), None), timeout=20, what="video")

    query = tg.press_button(group, preview.message_id, BOB, button_data(preview)[texts.PUBLISH])

    assert await answer_to(telegram, query) == texts.NOT_YOURS
    assert videos_in(telegram, telegram.channel_id) == []


async def test_forged_button_press_is_refused(reelay: Reelay, telegram: TelegramStandIn) -> None:
    tg = telegram.emulator
    tg.send_text(ALICE, ALICE, "/start")
    greeting = await tg.wait_for_async(lambda: next(iter(bot_messages(telegram, ALICE)), None), what="greeting")

    query = tg.press_button(ALICE, greeting.message_id, ALICE, "pub:NoSuchJob123", require_button=False)

    assert await answer_to(telegram, query) == texts.BUTTON_EXPIRED


async def test_bad_prompt_is_answered_with_what_to_fix(
    reelay: Reelay, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    limit = reelay.settings.limits.max_prompt_chars
    tg.send_text(ALICE, ALICE, "x" * (limit + 5))
    tg.send_text(ALICE, ALICE, "/video")

    replies = await tg.wait_for_async(
        lambda: (msgs := bot_messages(telegram, ALICE)) and len(msgs) >= 2 and msgs, what="two replies"
    )
    # Updates are handled concurrently, so the two answers may come in either order.
    assert {m.text for m in replies} == {texts.prompt_too_long(ENGLISH, limit, limit + 5), texts.PROMPT_EMPTY}
    assert kie.sim.submissions == []


async def test_provider_failure_tells_the_user_once(reelay: Reelay, telegram: TelegramStandIn) -> None:
    tg = telegram.emulator
    tg.send_text(ALICE, ALICE, "something not allowed [moderation] [polls=1]")

    await tg.wait_for_async(
        lambda: any(m.text == texts.error_message(ENGLISH, _moderation()) for m in bot_messages(telegram, ALICE)),
        what="the failure message",
    )
    await wait_for_job_status(reelay, ALICE, JobStatus.FAILED)
    failure_text = texts.error_message(ENGLISH, _moderation())
    await tg.wait_for_async(lambda: tg.calls("sendMessage")[-1].params.get("text") == failure_text, what="the call")
    failure_sends = [c for c in tg.calls("sendMessage") if c.params.get("text") == failure_text]
    assert len(failure_sends) == 1
    assert videos_in(telegram, ALICE) == []


async def test_settings_keyboard_changes_the_model_of_the_next_video(
    reelay: Reelay, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    tg.send_text(ALICE, ALICE, "/settings")
    menu = await tg.wait_for_async(lambda: next(iter(bot_messages(telegram, ALICE)), None), what="the menu")
    tg.press_button(ALICE, menu.message_id, ALICE, button_data(menu)[texts.SETTINGS_MODEL])
    models = await tg.wait_for_async(
        lambda: (m := tg.message(ALICE, menu.message_id)) and m.text == texts.SETTINGS_PICK_MODEL and m,
        what="the model page",
    )
    tg.press_button(ALICE, menu.message_id, ALICE, button_data(models)["Kling 3.0 Pro"])
    await tg.wait_for_async(
        lambda: "Model: Kling 3.0 Pro" in ((tg.message(ALICE, menu.message_id) or menu).text or ""), what="saved"
    )

    tg.send_text(ALICE, ALICE, "a paper boat on a lake")

    body = await tg.wait_for_async(lambda: next(iter(kie.sim.submissions), None), what="a submission")
    assert body["model"] == "kling-3.0/video"
    assert (body["input"]["mode"], body["input"]["duration"]) == ("pro", "5")


async def test_restart_mid_polling_delivers_exactly_once(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    settings = make_settings()
    async with running(settings):
        tg.send_text(ALICE, ALICE, "a slow sunrise over mountains [polls=8]")
        await tg.wait_for_async(lambda: sum(kie.sim.polls.values()) >= 2, what="two polls before the restart")
    polls_before = sum(kie.sim.polls.values())
    assert videos_in(telegram, ALICE) == []

    async with running(settings) as second:
        await tg.wait_for_async(lambda: len(videos_in(telegram, ALICE)) == 1, timeout=20, what="the video")
        job = await wait_for_job_status(second, ALICE, JobStatus.SUCCEEDED)

    assert sum(kie.sim.polls.values()) > polls_before
    assert len(kie.sim.submissions) == 1, "the restart did not resubmit"
    assert len([c for c in tg.calls("sendVideo") if c.ok]) == 1
    assert job.status is JobStatus.SUCCEEDED


def _moderation() -> ErrorCode:
    return ErrorCode.MODERATION_REJECTED


async def test_video_too_large_for_telegram_arrives_as_a_working_link(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    async with running(make_settings(telegram={"upload_limit_bytes": 1000})):
        tg.send_text(ALICE, ALICE, "a very long panorama [polls=1]")
        link_message = await tg.wait_for_async(
            lambda: next((m for m in bot_messages(telegram, ALICE) if m.text and "http" in m.text), None),
            timeout=20,
            what="the link message",
        )

    assert tg.calls("sendVideo") == []
    assert link_message.text is not None
    url = link_message.text.split()[-1]
    async with httpx.AsyncClient() as client:
        video = await client.get(url)
    assert video.status_code == 200
    assert video.content[4:8] == b"ftyp"
    assert set(button_data(link_message)) == {texts.PUBLISH, texts.EXTEND}


async def test_settings_survive_a_restart(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    settings = make_settings()
    async with running(settings):
        tg.send_text(ALICE, ALICE, "/settings")
        menu = await tg.wait_for_async(lambda: next(iter(bot_messages(telegram, ALICE)), None), what="the menu")
        tg.press_button(ALICE, menu.message_id, ALICE, button_data(menu)[texts.SETTINGS_MODEL])
        await tg.wait_for_async(
            lambda: (tg.message(ALICE, menu.message_id) or menu).text == texts.SETTINGS_PICK_MODEL, what="models"
        )
        models = tg.message(ALICE, menu.message_id)
        assert models is not None
        tg.press_button(ALICE, menu.message_id, ALICE, button_data(models)["Seedance 1 Pro"])
        await tg.wait_for_async(
            lambda: "Seedance" in ((tg.message(ALICE, menu.message_id) or menu).text or ""), what="saved"
        )

    async with running(settings):
        tg.send_text(ALICE, ALICE, "a kite over the dunes")
        body = await tg.wait_for_async(lambda: next(iter(kie.sim.submissions), None), what="a submission")

    assert body["model"] == "bytedance/v1-pro-text-to-video"


async def test_status_lists_jobs_and_cancel_stops_polling(
    reelay: Reelay, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    tg.send_text(ALICE, ALICE, "a very slow glacier [polls=1000]")
    ack = await tg.wait_for_async(
        lambda: next((m for m in bot_messages(telegram, ALICE) if first_text(m).startswith(texts.GENERATING)), None),
        what="the ack",
    )
    await tg.wait_for_async(lambda: sum(kie.sim.polls.values()) >= 1, what="a poll")

    tg.send_text(ALICE, ALICE, "/status")
    status = await tg.wait_for_async(
        lambda: next((m for m in bot_messages(telegram, ALICE) if m.text and "Veo 3.1 Fast —" in m.text), None),
        what="the status list",
    )
    assert "generating" in (status.text or "")

    tg.send_text(ALICE, ALICE, "/cancel")
    await tg.wait_for_async(
        lambda: any(m.text == texts.CANCELLED for m in bot_messages(telegram, ALICE) if m.message_id != ack.message_id),
        what="the cancel reply",
    )
    await tg.wait_for_async(
        lambda: (tg.message(ALICE, ack.message_id) or ack).text == texts.CANCELLED, what="the status edit"
    )
    job = await wait_for_job_status(reelay, ALICE, JobStatus.CANCELLED)
    polls = sum(kie.sim.polls.values())
    await asyncio.sleep(3 * reelay.settings.poll.interval_s)

    assert sum(kie.sim.polls.values()) == polls
    assert job.error_code is ErrorCode.CANCELLED


async def test_a_prompt_beyond_the_active_limit_is_refused_with_the_count(
    reelay: Reelay, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    limit = reelay.settings.limits.max_active_jobs_per_user
    for n in range(limit):  # one at a time: each is counted before the next arrives
        tg.send_text(ALICE, ALICE, f"a slow video, take {n} [polls=1000]")
        await tg.wait_for_async(  # counted as sent: the status edits soon change the acks' text
            lambda n=n: sum(c.params.get("text") == texts.GENERATING for c in tg.calls("sendMessage")) == n + 1,
            what=f"ack {n + 1}",
        )

    tg.send_text(ALICE, ALICE, "one more [polls=1000]")

    refusal = ENGLISH.plural(texts.TOO_MANY_ACTIVE, limit, count=limit)
    await tg.wait_for_async(lambda: any(m.text == refusal for m in bot_messages(telegram, ALICE)), what="refusal")
    assert len(await reelay.jobs.jobs_for_user(ALICE, limit=10)) == limit
