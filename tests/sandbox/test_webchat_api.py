"""The web chat's page and JSON API: acting as the person through the emulator, and what the page is sent."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice

from sandbox import images
from sandbox.media import sample_mp4_bytes
from sandbox.webchat import ChatFeed, ChatSetup, create_app
from sandbox.webchat.views import browser_language
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.integration
USER = 4242


@pytest.fixture
def setup(telegram: TelegramStandIn) -> ChatSetup:
    """The person at the page and their chats, on the session's emulator."""
    telegram.emulator.add_user(USER, "Dana")
    return ChatSetup(
        telegram.emulator,
        file_base_url=f"{telegram.base_file_url}{telegram.token}",
        user_id=USER,
        first_name="Dana",
        channel_id=telegram.channel_id,
    )


@pytest.fixture
async def page(setup: ChatSetup, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the web chat app in-process."""
    feed = ChatFeed(setup.emulator, setup.chat_ids)
    app = create_app(setup, feed, videos_dir=tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
        yield client
    feed.close()


def pending_updates(telegram: TelegramStandIn) -> list[dict[str, object]]:
    return telegram.emulator.pending_updates()


async def test_the_page_and_its_script_are_served_with_a_strict_content_policy(
    page: httpx.AsyncClient, telegram: TelegramStandIn
) -> None:
    html = await page.get("/")
    script = await page.get("/static/chat.js")

    assert html.status_code == 200
    assert 'src="/static/chat.js"' in html.text
    policy = html.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert f"media-src 'self' {telegram.url}" in policy  # videos play from the emulator's file URLs
    assert script.status_code == 200
    assert "EventSource" in script.text


def test_the_page_script_never_writes_markup_from_data() -> None:
    script = (Path(__file__).parents[2] / "sandbox/webchat/static/chat.js").read_text()

    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in script


async def test_sending_text_queues_a_message_update_for_the_bot(
    page: httpx.AsyncClient, telegram: TelegramStandIn
) -> None:
    response = await page.post("/api/messages", json={"text": "a <b>cat</b> surfing"})

    assert response.status_code == 201
    sent = response.json()["message"]
    assert sent["from"] == "user"
    assert sent["text"] == "a <b>cat</b> surfing"  # verbatim: the page shows it as text
    [update] = pending_updates(telegram)
    message = update["message"]
    assert isinstance(message, dict)
    assert message["text"] == "a <b>cat</b> surfing"
    assert message["from"]["id"] == USER
    assert message["chat"]["id"] == USER


async def test_a_reply_to_the_bots_force_reply_question_carries_reply_to_message(
    page: httpx.AsyncClient, telegram: TelegramStandIn
) -> None:
    async with telegram.make_bot() as bot:
        question = await bot.send_message(USER, "How should it continue?", reply_markup=ForceReply())
    state = (await page.get("/api/state")).json()
    asked = state["chat"]["messages"][-1]
    assert asked["force_reply"] == {"placeholder": None}

    response = await page.post("/api/messages", json={"text": "it jumps", "reply_to_message_id": question.message_id})

    assert response.status_code == 201
    assert response.json()["message"]["reply_to"]["preview"] == "How should it continue?"
    update = pending_updates(telegram)[-1]["message"]
    assert isinstance(update, dict)
    assert update["reply_to_message"]["message_id"] == question.message_id


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"text": "   "}, "non-empty"),
        ({"text": 5}, "non-empty"),
        ({"text": "x" * 4097}, "at most 4096"),
        ({"text": "hi", "reply_to_message_id": "1"}, "integer"),
        ({"text": "hi", "reply_to_message_id": 999}, "no message 999"),
        ([1, 2], "JSON object"),
    ],
)
async def test_bad_messages_are_refused_and_nothing_reaches_the_bot(
    page: httpx.AsyncClient, telegram: TelegramStandIn, body: object, reason: str
) -> None:
    response = await page.post("/api/messages", json=body)

    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert pending_updates(telegram) == []


async def test_a_form_post_from_another_site_is_refused(page: httpx.AsyncClient, telegram: TelegramStandIn) -> None:
    # A plain HTML form elsewhere can POST here without a CORS preflight; only JSON is accepted.
    response = await page.post("/api/messages", data={"text": "hello"})

    assert response.status_code == 415
    assert pending_updates(telegram) == []


async def test_requests_for_another_host_name_are_refused(page: httpx.AsyncClient) -> None:
    # DNS rebinding: evil.example resolving to 127.0.0.1 must not reach the API.
    response = await page.get("/api/state", headers={"Host": "evil.example"})

    assert response.status_code == 400


async def test_pressing_a_button_sends_a_callback_query_with_its_data(
    page: httpx.AsyncClient, telegram: TelegramStandIn
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Publish", callback_data="pub:job1")]])
    async with telegram.make_bot() as bot:
        sent = await bot.send_message(USER, "Your video", reply_markup=keyboard)

    response = await page.post("/api/buttons", json={"message_id": sent.message_id, "data": "pub:job1"})

    assert response.status_code == 200
    query_id = response.json()["callback_query_id"]
    [update] = pending_updates(telegram)
    query = update["callback_query"]
    assert isinstance(query, dict)
    assert query["id"] == query_id
    assert query["data"] == "pub:job1"
    assert query["from"]["id"] == USER
    assert query["message"]["message_id"] == sent.message_id


async def test_pressing_a_button_the_message_does_not_have_is_refused(
    page: httpx.AsyncClient, telegram: TelegramStandIn
) -> None:
    async with telegram.make_bot() as bot:
        sent = await bot.send_message(USER, "No buttons here")

    forged = await page.post("/api/buttons", json={"message_id": sent.message_id, "data": "pub:job1"})
    elsewhere = await page.post("/api/buttons", json={"chat_id": 777, "message_id": 1, "data": "x"})

    assert forged.status_code == 400
    assert "no button" in forged.json()["error"]
    assert elsewhere.status_code == 400
    assert pending_updates(telegram) == []


async def test_state_shows_both_chats_with_buttons_videos_and_channel_posts(
    page: httpx.AsyncClient, telegram: TelegramStandIn
) -> None:
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("📢 Publish", callback_data="pub:j"), InlineKeyboardButton("Docs", url="https://x.y")]]
    )
    async with telegram.make_bot() as bot:
        await bot.set_my_commands([("video", "Make a video")])
        video = await bot.send_video(USER, sample_mp4_bytes(), caption="🎬 Veo 3 Fast", reply_markup=keyboard)
        assert video.video is not None
        await bot.send_video(telegram.channel_id, video.video.file_id, caption="posted")

    state = (await page.get("/api/state")).json()

    assert state["me"] == {"id": USER, "first_name": "Dana"}
    assert state["bot"]["commands"] == [{"command": "video", "description": "Make a video"}]
    [preview] = state["chat"]["messages"]
    assert preview["from"] == "bot"
    assert preview["caption"] == "🎬 Veo 3 Fast"
    assert preview["buttons"] == [
        [
            {"text": "📢 Publish", "data": "pub:j", "url": None, "pay": False},
            {"text": "Docs", "data": None, "url": "https://x.y", "pay": False},
        ]
    ]
    assert state["channel"]["title"] == "Reelay Channel"
    [post] = state["channel"]["messages"]
    assert post["from"] == "channel"
    assert post["video"]["url"] == preview["video"]["url"]  # same file_id, same file
    async with httpx.AsyncClient() as browser:
        played = await browser.get(preview["video"]["url"])
    assert played.status_code == 200
    assert played.content == sample_mp4_bytes()


async def test_local_videos_are_served_for_download_links_and_nothing_outside(
    page: httpx.AsyncClient, tmp_path: Path
) -> None:
    (tmp_path / "job1.mp4").write_bytes(b"mp4 bytes")
    (tmp_path.parent / "secret.txt").write_text("not for the page")

    found = await page.get("/videos/job1.mp4")
    escaped = await page.get("/videos/..%2Fsecret.txt")

    assert found.status_code == 200
    assert found.content == b"mp4 bytes"
    assert escaped.status_code == 404


async def test_a_photo_with_a_caption_reaches_the_bot_as_a_photo(
    page: httpx.AsyncClient, telegram: TelegramStandIn
) -> None:
    photo = images.png(640, 480)
    answer = await page.post("/api/photos", json={"data": base64.b64encode(photo).decode(), "caption": "a fox"})

    assert answer.status_code == 201
    view = answer.json()["message"]
    assert view["caption"] == "a fox"
    assert (view["photo"]["width"], view["photo"]["height"]) == (640, 480)
    served = await httpx.AsyncClient().get(view["photo"]["url"])
    assert served.content == photo
    [update] = pending_updates(telegram)
    assert update["message"]["photo"][-1]["width"] == 640  # type: ignore[index]


async def test_any_file_can_go_as_a_document_but_not_as_a_photo(page: httpx.AsyncClient) -> None:
    pdf = base64.b64encode(images.pdf()).decode()
    as_photo = await page.post("/api/photos", json={"data": pdf})
    as_file = await page.post("/api/photos", json={"data": pdf, "as_file": True, "file_name": "a.pdf"})

    assert as_photo.status_code == 400
    assert as_file.status_code == 201
    assert as_file.json()["message"]["document"]["file_name"] == "a.pdf"


async def test_photos_are_bounded_and_must_be_json(page: httpx.AsyncClient) -> None:
    too_big = await page.post("/api/photos", content=b"{}", headers={"content-length": str(40 * 1024 * 1024)})
    form = await page.post("/api/photos", data={"data": "AAAA"})
    assert too_big.status_code == 413
    assert form.status_code == 415


async def test_paying_an_invoice_runs_the_pre_checkout_and_the_payment(
    page: httpx.AsyncClient, telegram: TelegramStandIn
) -> None:
    async with telegram.make_bot() as bot:
        sent = await bot.send_invoice(USER, "100 credits", "For videos", "payload", "XTR", [LabeledPrice("x", 50)])
        paying = asyncio.create_task(page.post("/api/payments", json={"message_id": sent.message_id}))
        query = None
        while query is None:
            updates = await bot.get_updates(timeout=1)
            query = updates[0].pre_checkout_query if updates else None
        await bot.answer_pre_checkout_query(query.id, ok=True)
        response = await paying

    assert response.json() == {"paid": True, "error_message": None, "timed_out": False}
    state = (await page.get("/api/state")).json()
    views = state["chat"]["messages"]
    [invoice] = [m for m in views if m["invoice"]]
    assert invoice["invoice"] == {"title": "100 credits", "description": "For videos", "stars": 50}
    assert invoice["buttons"][0][0]["pay"] is True
    assert [m["payment"] for m in views if m["payment"]] == [{"stars": 50}]


async def test_paying_something_that_is_not_an_invoice_is_refused(
    page: httpx.AsyncClient, telegram: TelegramStandIn
) -> None:
    async with telegram.make_bot() as bot:
        sent = await bot.send_message(USER, "not an invoice")

    response = await page.post("/api/payments", json={"message_id": sent.message_id})

    assert response.status_code == 400
    assert telegram.emulator.world.pre_checkouts == {}


async def test_the_browsers_language_is_the_persons_app_language(
    page: httpx.AsyncClient, telegram: TelegramStandIn
) -> None:
    async with telegram.make_bot() as bot:
        await bot.set_my_commands([("help", "How it works")])
        await bot.set_my_commands([("help", "Как это работает")], language_code="ru")

    state = await page.get("/api/state", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"})
    sent = await page.post("/api/messages", json={"text": "/help"}, headers={"Accept-Language": "ru-RU"})

    assert state.json()["bot"]["commands"] == [{"command": "help", "description": "Как это работает"}]
    assert sent.status_code == 201
    assert pending_updates(telegram)[-1]["message"]["from"]["language_code"] == "ru-ru"  # type: ignore[index]
    english = await page.get("/api/state", headers={"Accept-Language": "en-GB"})
    assert english.json()["bot"]["commands"] == [{"command": "help", "description": "How it works"}]


@pytest.mark.parametrize(
    ("header", "language"),
    [("ru-RU,ru;q=0.9", "ru-ru"), ("es", "es"), ("*", None), ("", None), (None, None), ("<script>", None)],
)
def test_a_browser_language_is_read_from_the_first_accept_language_tag(
    header: str | None, language: str | None
) -> None:
    assert browser_language(header) == language
