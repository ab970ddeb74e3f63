"""Failures as Telegram answers them: tokens, unknown methods, injected 429/5xx, per-chat flood control."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, RetryAfter

from sandbox.serve import ThreadedServer
from sandbox.telegram import TelegramEmulator, create_app
from tests.fixtures.telegram import TelegramStandIn

pytestmark = [
    pytest.mark.integration,
    # RetryAfter formats its own message through its deprecated int-valued property.
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]
USER = 31337


async def test_injected_flood_surfaces_as_retry_after_then_clears(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    telegram.emulator.inject_fault("sendMessage", "flood", retry_after=7)
    async with telegram.make_bot() as bot:
        with pytest.raises(RetryAfter, match="Retry in 7 seconds"):
            await bot.send_message(USER, "first try")
        sent = await bot.send_message(USER, "second try")

    assert sent.text == "second try"
    assert [c.error for c in telegram.emulator.calls("sendMessage")] == ["Too Many Requests: retry after 7", None]


@pytest.mark.parametrize(("status", "phrase"), [(500, "Internal Server Error"), (502, "Bad Gateway")])
async def test_injected_server_errors_surface_as_network_errors(
    telegram: TelegramStandIn, status: int, phrase: str
) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        telegram.emulator.inject_fault("*", "server_error", times=2, status=status)
        with pytest.raises(NetworkError, match=f"^{phrase}$"):
            await bot.get_chat(USER)
        with pytest.raises(NetworkError, match=f"^{phrase}$"):
            await bot.send_message(USER, "x")
        assert (await bot.send_message(USER, "y")).text == "y"

    assert [(c.method, c.ok) for c in telegram.emulator.calls()] == [
        ("getMe", True),
        ("getChat", False),
        ("sendMessage", False),
        ("sendMessage", True),
    ]


async def test_flood_control_limits_sends_and_edits_per_chat(telegram: TelegramStandIn) -> None:
    emulator = telegram.emulator
    emulator.add_user(USER)
    emulator.set_flood_control(2, per_seconds=60)
    async with telegram.make_bot() as bot:
        status = await bot.send_message(USER, "1")
        await bot.edit_message_text("2", USER, status.message_id)
        with pytest.raises(RetryAfter, match=r"Retry in (59|60) seconds"):
            await bot.send_message(USER, "3")
        with pytest.raises(RetryAfter, match=r"Retry in (59|60) seconds"):
            await bot.edit_message_text("4", USER, status.message_id)
        other_chat = await bot.send_message(telegram.channel_id, "elsewhere")

    assert [m.text for m in emulator.messages(USER)] == ["2"]
    assert other_chat.text == "elsewhere"


async def test_a_well_formed_but_unknown_token_is_unauthorized(telegram: TelegramStandIn) -> None:
    bot = telegram.make_bot("999:WRONG-TOKEN")
    with pytest.raises(InvalidToken, match="Unauthorized"):
        await bot.get_me()
    await bot.shutdown()


async def test_raw_answers_have_telegrams_shape_and_status(telegram: TelegramStandIn) -> None:
    telegram.emulator.inject_fault("getMe", "flood", retry_after=3)
    api = f"{telegram.base_url}{telegram.token}"
    async with httpx.AsyncClient() as client:
        flood = await client.get(f"{api}/getMe")
        me = await client.get(f"{api}/getme")  # method names are case-insensitive
        unknown = await client.post(f"{api}/noSuchMethod")
        malformed = await client.get(f"{telegram.base_url}not-a-token/getMe")
        wrong = await client.get(f"{telegram.base_url}1:abc/getMe")
        by_json = await client.post(f"{api}/sendMessage", json={"chat_id": telegram.channel_id, "text": "hi"})
        missing = await client.post(f"{api}/sendMessage", data={"chat_id": str(telegram.channel_id)})

    assert (flood.status_code, flood.json()) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        },
    )
    assert me.json()["ok"] is True
    assert me.json()["result"]["id"] == 123456
    assert (unknown.status_code, unknown.json()) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    assert (malformed.status_code, malformed.json()["description"]) == (404, "Not Found")
    assert (wrong.status_code, wrong.json()["description"]) == (401, "Unauthorized")
    assert by_json.json()["result"]["text"] == "hi"
    assert (missing.status_code, missing.json()["description"]) == (400, "Bad Request: message text is empty")


@pytest.fixture
def open_emulator() -> Iterator[tuple[TelegramEmulator, str]]:
    emulator = TelegramEmulator(accept_any_token=True)
    with ThreadedServer(create_app(emulator)) as server:
        yield emulator, server.url


async def test_accept_any_token_gives_each_token_its_own_bot(open_emulator: tuple[TelegramEmulator, str]) -> None:
    emulator, url = open_emulator
    async with (
        Bot("111:AAA", base_url=f"{url}/bot") as first,
        Bot("222:BBB", base_url=f"{url}/bot") as second,
    ):
        ids = (first.id, second.id)
        emulator.send_text(USER, USER, "for the second bot", token="222:BBB")
        first_updates = await first.get_updates()
        second_updates = await second.get_updates()

    assert ids == (111, 222)
    assert first_updates == ()
    assert [u.message.text for u in second_updates if u.message] == ["for the second bot"]
