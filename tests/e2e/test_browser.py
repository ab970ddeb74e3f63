"""A person in a real browser: Debian's Chromium, driven by Playwright, using the sandbox's web chat.

The sandbox is the one ``reelay sandbox`` runs (the real Reelay on the Telegram emulator, the KIE.ai
simulator and redis-server), only with videos that finish in a second or two. Screenshots of every step
go to ``artifacts/browser/``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from bot import texts
from bot.i18n import ENGLISH, translator
from sandbox import images
from sandbox.runner import Sandbox, SandboxUrls
from tests.e2e.browser_support import ARTIFACTS, fast_sandbox, headless_chromium

pytestmark = pytest.mark.e2e

VIDEO_WAIT_MS = 30_000
PROMPT = "A red fox running through fresh snow at sunrise, cinematic"
CONTINUATION = "The fox leaps into a frozen river and swims away"
# Resolves once the element can play: HAVE_CURRENT_DATA (2) or later, or its first canplay event.
PLAYABLE = """video => video.readyState >= 2 || new Promise((resolve, reject) => {
    video.addEventListener("canplay", () => resolve(true), { once: true });
    video.addEventListener("error", () => reject(new Error("video error " + (video.error && video.error.code))));
})"""


@dataclass
class ChatTab:
    """The browser tab showing the web chat, and every script error it raised."""

    page: Page
    urls: SandboxUrls
    errors: list[str] = field(default_factory=list)

    async def shot(self, name: str) -> None:
        """Save a screenshot as a test artifact."""
        await self.page.screenshot(path=ARTIFACTS / f"{name}.png")

    async def send(self, text: str) -> None:
        """Type a message and press Enter."""
        composer = self.page.get_by_test_id("composer-input")
        await composer.fill(text)
        await composer.press("Enter")

    @property
    def bot_chat(self) -> Locator:
        """The private chat with the bot."""
        return self.page.get_by_test_id("messages-bot")

    def videos_from_bot(self) -> Locator:
        """The bot's messages that hold a video, oldest first."""
        return self.bot_chat.locator("[data-from=bot]:has(video)")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Debian Chromium."""
    async with headless_chromium() as launched:
        yield launched


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The sandbox with fast videos and a real redis-server."""
    async with fast_sandbox(tmp_path, seed=1) as running:
        yield running


@pytest.fixture
async def chat(browser: Browser, sandbox: Sandbox, request: pytest.FixtureRequest) -> AsyncIterator[ChatTab]:
    """A tab with the chat open and its live stream connected; its last state is saved as a screenshot."""
    assert sandbox.urls is not None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The browser's language is the person's app language (Accept-Language); these tests speak English.
    locale = getattr(request, "param", "en-US")
    context = await browser.new_context(viewport={"width": 1280, "height": 820}, locale=locale)
    page = await context.new_page()
    tab = ChatTab(page, sandbox.urls)
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    await page.goto(f"{sandbox.urls.webchat}/")
    await expect(page.get_by_test_id("connection")).to_have_text("connected")
    try:
        yield tab
    finally:
        await tab.shot(f"{request.node.name}-last")
        await context.close()


async def test_a_person_makes_publishes_and_extends_a_video(chat: ChatTab, sandbox: Sandbox) -> None:
    page = chat.page
    await chat.shot("01-empty-chat")

    await chat.send(PROMPT)
    ack = chat.bot_chat.locator("[data-from=bot]", has_text=texts.GENERATING)
    await expect(ack).to_be_visible(timeout=1000)
    await expect(chat.bot_chat.locator("[data-from=user]", has_text=PROMPT)).to_be_visible()
    await chat.shot("02-ack")

    first = chat.videos_from_bot()
    await expect(first).to_have_count(1, timeout=VIDEO_WAIT_MS)
    assert await first.locator("video").evaluate(PLAYABLE)
    publish = first.get_by_role("button", name=texts.PUBLISH, exact=True)
    extend = first.get_by_role("button", name=texts.EXTEND, exact=True)
    await expect(publish).to_be_visible()
    await expect(extend).to_be_visible()
    await chat.shot("03-video-delivered")

    await publish.click()
    await expect(page.get_by_test_id("toast")).to_have_text(texts.PUBLISH_DONE)
    await expect(first.get_by_role("button", name=texts.PUBLISHED, exact=True)).to_be_visible()
    channel_entry = page.get_by_test_id("chat-entry-channel")
    await expect(channel_entry.locator(".unread")).to_have_text("1")
    await channel_entry.click()
    post = page.get_by_test_id("messages-channel").locator("[data-from=channel]:has(video)")
    await expect(post).to_have_count(1)
    assert await post.locator("video").evaluate(PLAYABLE)
    await chat.shot("04-channel-post")

    await page.get_by_test_id("chat-entry-bot").click()
    await extend.click()
    reply_bar = page.get_by_test_id("reply-bar")
    await expect(reply_bar).to_be_visible()
    await expect(reply_bar).to_contain_text(texts.EXTEND_ASK)
    await expect(page.get_by_test_id("composer-input")).to_have_attribute("placeholder", texts.EXTEND_PLACEHOLDER)
    await chat.shot("05-extend-question")

    await chat.send(CONTINUATION)
    answer = chat.bot_chat.locator("[data-from=user]", has_text=CONTINUATION)
    await expect(answer.locator(".reply-quote")).to_contain_text(texts.EXTEND_ASK[:40])
    await expect(reply_bar).to_be_hidden()
    await expect(chat.videos_from_bot()).to_have_count(2, timeout=VIDEO_WAIT_MS)
    assert await chat.videos_from_bot().nth(1).locator("video").evaluate(PLAYABLE)
    await chat.shot("06-extended-video")

    first_task, extension = sandbox.kie.submissions
    assert extension["taskId"] == next(iter(sandbox.kie.tasks))  # Veo's extend endpoint, on the first video
    assert extension["prompt"] == CONTINUATION
    assert first_task["prompt"] == PROMPT
    assert chat.errors == []


async def test_settings_keyboards_edit_the_same_message_in_place(chat: ChatTab) -> None:
    page = chat.page
    await page.get_by_role("button", name="Menu").click()
    await page.get_by_test_id("commands-menu").get_by_text("/settings").click()
    menu = chat.bot_chat.locator("[data-from=bot]", has_text="Your settings")
    await expect(menu).to_have_count(1)
    menu_id = await menu.get_attribute("data-message-id")

    await menu.get_by_role("button", name=texts.SETTINGS_MODEL).click()
    await expect(menu).to_have_count(0)  # the same bubble now asks for a model
    picker = chat.bot_chat.locator(f"[data-message-id='{menu_id}']")
    await expect(picker).to_contain_text(texts.SETTINGS_PICK_MODEL)
    await picker.get_by_role("button", name=re.compile("Kling 3.0 Pro")).click()
    await expect(picker).to_contain_text("Model: Kling 3.0 Pro")
    await expect(page.get_by_test_id("toast")).to_have_text(texts.SETTINGS_SAVED)

    await expect(chat.bot_chat.locator("[data-from=bot]")).to_have_count(1)  # edited, never re-sent
    await expect(picker.locator(".edited")).to_be_visible()
    await chat.shot("settings-edited-in-place")
    assert chat.errors == []


async def test_markup_in_a_prompt_is_shown_as_text_and_never_runs(chat: ChatTab) -> None:
    prompt = '<img src=x onerror="window.__injected = 1"><b>bold</b> fox'

    await chat.send(prompt)

    bubble = chat.bot_chat.locator("[data-from=user] .text")
    await expect(bubble).to_have_text(prompt)
    assert await chat.bot_chat.locator("img, b").count() == 0
    assert await chat.page.evaluate("window.__injected === undefined")
    assert chat.errors == []


async def test_a_person_sends_a_photo_with_a_caption_and_gets_a_video(chat: ChatTab, sandbox: Sandbox) -> None:
    page = chat.page
    await page.get_by_test_id("composer-input").fill("The fox in the photo starts to run")
    photo = images.png(640, 480)
    await page.get_by_test_id("photo-input").set_input_files(
        files=[{"name": "fox.png", "mimeType": "image/png", "buffer": photo}]
    )

    sent = chat.bot_chat.locator("[data-from=user]:has([data-testid=photo])")
    await expect(sent).to_have_count(1)
    await expect(sent).to_contain_text("The fox in the photo starts to run")
    assert await sent.locator("img").evaluate("img => img.complete && img.naturalWidth") == 640
    await expect(chat.bot_chat.locator("[data-from=bot]", has_text=texts.GENERATING)).to_be_visible(timeout=2000)
    await expect(page.get_by_test_id("composer-input")).to_have_value("")
    await chat.shot("photo-01-sent")

    video = chat.videos_from_bot()
    await expect(video).to_have_count(1, timeout=VIDEO_WAIT_MS)
    assert await video.locator("video").evaluate(PLAYABLE)
    await chat.shot("photo-02-video")
    assert chat.errors == []


async def test_a_person_buys_credits_with_stars(chat: ChatTab) -> None:
    await chat.send("/buy")
    menu = chat.bot_chat.locator("[data-from=bot]", has_text=texts.BUY_MENU)
    await expect(menu).to_be_visible()
    await menu.get_by_role("button", name=texts.pack_button("100 credits", 50)).click()

    invoice = chat.bot_chat.get_by_test_id("invoice")
    await expect(invoice).to_contain_text("100 credits")
    await expect(invoice).to_contain_text("⭐50")
    await chat.shot("buy-01-invoice")
    await chat.page.get_by_test_id("pay-button").click()

    thanks = ENGLISH.plural(texts.PAID, 1100, credits=100, balance=1100)
    await expect(chat.bot_chat.locator("[data-from=bot]", has_text=thanks)).to_be_visible(timeout=10_000)
    await expect(chat.bot_chat.locator("[data-from=user]", has_text="You paid ⭐50")).to_be_visible()
    await chat.shot("buy-02-paid")
    assert chat.errors == []


@pytest.mark.parametrize("chat", ["ru-RU"], indirect=True)
async def test_a_russian_browser_gets_the_bot_in_russian(chat: ChatTab) -> None:
    russian = translator("ru")

    await chat.send(PROMPT)
    ack = chat.bot_chat.locator("[data-from=bot]", has_text=russian(texts.GENERATING))
    await expect(ack).to_be_visible(timeout=5000)
    video = chat.videos_from_bot()
    await expect(video).to_have_count(1, timeout=VIDEO_WAIT_MS)
    await expect(video.get_by_role("button", name=russian(texts.PUBLISH), exact=True)).to_be_visible()
    await chat.shot("russian-video")
    assert chat.errors == []
