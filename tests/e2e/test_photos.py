"""Image-to-video end to end: a photo becomes a Veo job whose submit carries a URL serving the photo's exact bytes;
a photo without a caption asks for its description; unusable photos are refused before any provider call; an album
gives a first and a last frame."""

from __future__ import annotations

import asyncio

import pytest

from bot import preferences, texts
from bot.app import Reelay
from bot.i18n import ENGLISH
from bot.settings import Settings
from poller.jobs import AspectRatio, JobStatus
from providers.catalog import Catalog, ModelInfo, all_models, get_model
from sandbox import images
from tests.e2e.conftest import (
    ALICE,
    SettingsFactory,
    bot_messages,
    first_text,
    running,
    videos_in,
    wait_for_job_status,
)
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
BALANCE = 50


def credits_on(make_settings: SettingsFactory, **sections: dict[str, object]) -> object:
    return make_settings(credits={"enabled": True, "initial_balance": BALANCE}, **sections)


async def a_video(telegram: TelegramStandIn) -> None:
    await telegram.emulator.wait_for_async(lambda: videos_in(telegram, ALICE), timeout=20, what="the video")


async def test_a_photo_with_a_caption_becomes_a_veo_image_to_video_job(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    photo = images.jpeg(1280, 720)
    async with running(credits_on(make_settings)) as reelay:  # type: ignore[arg-type]
        telegram.emulator.send_photo(ALICE, ALICE, photo, caption="the fox starts running")
        ack = await telegram.emulator.wait_for_async(
            lambda: next((m for m in bot_messages(telegram, ALICE) if first_text(m) == texts.GENERATING), None),
            what="the instant ack",
        )
        assert ack is not None
        await a_video(telegram)
        job = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)
        assert len(await reelay.jobs.jobs_for_user(ALICE)) == 1
        assert reelay.credits is not None
        assert await reelay.credits.balance(ALICE) == BALANCE - 10

    [submitted] = kie.sim.submissions
    assert submitted["prompt"] == "the fox starts running"
    assert submitted["generationType"] == "FIRST_AND_LAST_FRAMES_2_VIDEO"
    [url] = submitted["imageUrls"]
    assert kie.sim.inputs.fetched[url] == photo  # what "KIE" fetched is the very photo the user sent
    assert f"inputs/{job.id}.jpg" in url  # a presigned link to the blob store
    assert job.options.image_url == url


async def test_a_photo_without_a_caption_asks_and_the_reply_starts_the_job(
    reelay: Reelay, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    photo = images.png(800, 600)
    tg = telegram.emulator
    tg.send_photo(ALICE, ALICE, photo)
    question = await tg.wait_for_async(
        lambda: next((m for m in bot_messages(telegram, ALICE) if (m.text or "").startswith(texts.PHOTO_ASK)), None),
        what="the question",
    )
    assert question.reply_markup is not None
    assert question.reply_markup.get("force_reply") is True
    assert kie.sim.submissions == []

    tg.send_text(ALICE, ALICE, "waves roll in", reply_to_message_id=question.message_id)
    await a_video(telegram)
    [submitted] = kie.sim.submissions
    assert submitted["prompt"] == "waves roll in"
    assert list(kie.sim.inputs.fetched.values()) == [photo]

    # The question answered once: a second reply starts nothing more.
    tg.send_text(ALICE, ALICE, "again", reply_to_message_id=question.message_id)
    await tg.wait_for_async(lambda: bot_messages(telegram, ALICE)[-1].text == texts.PHOTO_GONE, what="gone")
    assert len(kie.sim.submissions) == 1


@pytest.mark.parametrize(
    ("send", "answer"),
    [
        (
            lambda tg: tg.send_photo(ALICE, ALICE, images.png(200, 150), caption="x"),
            texts.photo_too_small(ENGLISH, 200, 150, 300),
        ),
        (
            lambda tg: tg.send_document(ALICE, ALICE, images.pdf(), file_name="fox.jpg", mime_type="image/jpeg"),
            texts.not_a_photo(ENGLISH, "PDF"),
        ),
    ],
    ids=["too-small-photo", "pdf-named-jpg"],
)
async def test_an_unusable_photo_is_refused_before_any_provider_call(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, send: object, answer: str
) -> None:
    async with running(credits_on(make_settings)) as reelay:  # type: ignore[arg-type]
        assert callable(send)
        send(telegram.emulator)
        await telegram.emulator.wait_for_async(
            lambda: any(m.text == answer for m in bot_messages(telegram, ALICE)), what=answer
        )
        await asyncio.sleep(0.3)  # long enough for a job, had one been made, to be submitted
        assert kie.sim.submissions == []
        assert await reelay.jobs.jobs_for_user(ALICE) == []
        assert reelay.credits is not None
        assert await reelay.credits.balance(ALICE) == BALANCE


async def test_a_png_sent_as_a_file_works_like_a_photo(
    reelay: Reelay, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    photo = images.webp(640, 640)
    telegram.emulator.send_document(ALICE, ALICE, photo, file_name="scan.pdf", caption="it spins")
    await a_video(telegram)
    [url] = kie.sim.submissions[0]["imageUrls"]
    assert url.split("?")[0].endswith(".webp")
    assert kie.sim.inputs.fetched[url] == photo


async def test_an_album_gives_the_first_and_the_last_frame(
    reelay: Reelay, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    first, last = images.jpeg(1280, 720), images.png(1280, 720)
    telegram.emulator.send_photo(ALICE, ALICE, first, caption="from dawn to dusk", media_group_id="g1")
    telegram.emulator.send_photo(ALICE, ALICE, last, media_group_id="g1")
    await a_video(telegram)

    [submitted] = kie.sim.submissions
    assert submitted["prompt"] == "from dawn to dusk"
    first_url, last_url = submitted["imageUrls"]
    fetched = kie.sim.inputs.fetched
    assert (fetched[first_url], fetched[last_url]) == (first, last)
    assert len(await reelay.jobs.jobs_for_user(ALICE)) == 1


async def test_kie_upload_hands_the_provider_kies_own_link(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    photo = images.jpeg(1024, 1024)
    settings = make_settings(
        providers={
            "kie": {
                "base_url": kie.url,
                "api_key": kie.api_key,
                "timeout_s": 5,
                "upload_inputs": True,
                "upload_base_url": kie.url,
            }
        }
    )
    async with running(settings):
        telegram.emulator.send_photo(ALICE, ALICE, photo, caption="a slow zoom")
        await a_video(telegram)
    [url] = kie.sim.submissions[0]["imageUrls"]
    assert url.startswith(f"{kie.url}/files/uploads/")
    assert kie.sim.inputs.fetched[url] == photo
    [upload] = kie.sim.inputs.uploads
    assert upload.data == photo


async def test_a_model_that_takes_no_photo_is_refused_naming_those_that_do(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every model of today's table takes a photo: one that does not is added for this test.
    words_only = ModelInfo("hailuo/02-text-to-video-pro", "Hailuo 02", "kie_market", (6,), (AspectRatio.LANDSCAPE,))
    monkeypatch.setattr(Settings, "catalog", lambda self: Catalog(models=(*all_models(), words_only)))
    monkeypatch.setattr(
        preferences, "get_model", lambda model: words_only if model == words_only.id else get_model(model)
    )
    async with running(make_settings(defaults={"model": words_only.id})) as reelay:
        telegram.emulator.send_photo(ALICE, ALICE, images.jpeg(1280, 720), caption="a fox")
        answer = await telegram.emulator.wait_for_async(
            lambda: next((m.text for m in bot_messages(telegram, ALICE) if m.text), None), what="the answer"
        )
        assert answer.startswith("Hailuo 02 makes videos from words only.")
        takers = [model.label for model in reelay.settings.catalog().taking_images()]
        assert answer == texts.TAKES_NO_PHOTO.format(model="Hailuo 02", models=", ".join(takers))
        assert "Veo 3.1 Fast" in answer
        await asyncio.sleep(0.3)
        assert kie.sim.submissions == []
        assert await reelay.jobs.jobs_for_user(ALICE) == []


def jpeg_with_a_late_frame_header(width: int, height: int) -> bytes:
    """A JPEG whose dimensions come after 320 KiB of ICC segments: past the head the bot reads, so only the engine's
    check of the whole file can see them."""
    normal = images.jpeg(width, height)
    icc = b"\xff\xe2" + (65535).to_bytes(2, "big") + b"ICC_PROFILE\x00" + bytes(65533 - 12)
    return normal[:2] + icc * 5 + normal[2:]


async def test_a_photo_the_engine_finds_unusable_fails_with_its_own_words_and_a_refund(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    sneaky = jpeg_with_a_late_frame_header(200, 150)
    async with running(credits_on(make_settings)) as reelay:  # type: ignore[arg-type]
        telegram.emulator.send_document(ALICE, ALICE, sneaky, file_name="big.jpg", caption="a fox")
        await telegram.emulator.wait_for_async(
            lambda: any(m.text == texts.PHOTO_FAILED for m in bot_messages(telegram, ALICE)), what="the failure"
        )
        [job] = await reelay.jobs.jobs_for_user(ALICE)
        assert job.status is JobStatus.FAILED
        assert (job.error_raw or "").startswith("photo: 200x150")
        assert reelay.credits is not None
        assert await reelay.credits.balance(ALICE) == BALANCE
    assert kie.sim.submissions == []


async def test_a_market_model_gets_its_own_frame_fields(
    make_settings: SettingsFactory, telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    first, last = images.webp(1280, 720), images.jpeg(1280, 720)
    async with running(make_settings(defaults={"model": "bytedance/seedance-2"})):
        telegram.emulator.send_photo(ALICE, ALICE, first, media_group_id="g2")
        telegram.emulator.send_photo(ALICE, ALICE, last, caption="a sunset", media_group_id="g2")
        await a_video(telegram)
    [submitted] = kie.sim.submissions
    inputs = submitted["input"]
    assert (submitted["model"], inputs["prompt"]) == ("bytedance/seedance-2", "a sunset")
    fetched = kie.sim.inputs.fetched
    assert (fetched[inputs["first_frame_url"]], fetched[inputs["last_frame_url"]]) == (first, last)
