"""RedisPersistence against a real redis-server: every method, crash survival, a real PTB Application."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from telegram import Bot, Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PersistenceInput,
    filters,
)
from telegram.request import BaseRequest, RequestData

from storage.ptb_persistence import USER_DATA_ONLY, NotJSONSerializable, RedisPersistence

pytestmark = pytest.mark.integration


@pytest.fixture
async def second_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """Another connection, standing for a new process after a crash."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def persistence(redis_client: aioredis.Redis) -> RedisPersistence:
    return RedisPersistence(redis_client)


async def test_user_and_chat_data_round_trip_and_drop(persistence: RedisPersistence) -> None:
    await persistence.update_user_data(1, {"prefs": {"model": "veo3", "duration_s": 8}, "n": 1.5})
    await persistence.update_user_data(2, {"lang": "uk", "ok": True, "none": None, "list": [1, "a"]})
    await persistence.update_chat_data(-100, {"title": "кіно 🎬"})

    assert await persistence.get_user_data() == {
        1: {"prefs": {"model": "veo3", "duration_s": 8}, "n": 1.5},
        2: {"lang": "uk", "ok": True, "none": None, "list": [1, "a"]},
    }
    assert await persistence.get_chat_data() == {-100: {"title": "кіно 🎬"}}

    await persistence.drop_user_data(1)
    await persistence.drop_chat_data(-100)
    assert list(await persistence.get_user_data()) == [2]
    assert await persistence.get_chat_data() == {}


async def test_updating_to_an_empty_dict_removes_the_entry(
    persistence: RedisPersistence, redis_client: aioredis.Redis
) -> None:
    await persistence.update_user_data(1, {"a": 1})
    await persistence.update_user_data(1, {})
    assert await persistence.get_user_data() == {}
    assert await redis_client.exists("reelay:ptb:user_data") == 0


async def test_bot_data_round_trips_and_defaults_to_empty(persistence: RedisPersistence) -> None:
    assert await persistence.get_bot_data() == {}
    await persistence.update_bot_data({"counter": 3, "flags": {"x": False}})
    assert await persistence.get_bot_data() == {"counter": 3, "flags": {"x": False}}


async def test_callback_data_round_trips_with_its_tuples(persistence: RedisPersistence) -> None:
    assert await persistence.get_callback_data() is None
    data = ([("uuid-1", 1700000000.5, {"btn": "publish:abc"})], {"query-1": "uuid-1"})

    await persistence.update_callback_data(data)

    assert await persistence.get_callback_data() == data


async def test_conversations_keep_tuple_keys_and_none_ends_them(persistence: RedisPersistence) -> None:
    await persistence.update_conversation("settings", (10, 20), 1)
    await persistence.update_conversation("settings", (10, "inline"), "CHOOSING")
    await persistence.update_conversation("extend", (10, 20), 2)

    assert await persistence.get_conversations("settings") == {(10, 20): 1, (10, "inline"): "CHOOSING"}

    await persistence.update_conversation("settings", (10, 20), None)
    assert await persistence.get_conversations("settings") == {(10, "inline"): "CHOOSING"}
    assert await persistence.get_conversations("extend") == {(10, 20): 2}
    assert await persistence.get_conversations("unknown") == {}


async def test_a_new_instance_reads_what_the_last_one_wrote_without_flush(
    persistence: RedisPersistence, second_client: aioredis.Redis
) -> None:
    await persistence.update_user_data(7, {"prefs": {"model": "sora2"}})
    await persistence.update_chat_data(8, {"k": "v"})
    await persistence.update_bot_data({"b": 1})
    await persistence.update_conversation("settings", (8, 7), 0)
    # No flush(), no shutdown: the first process "crashed" here.

    restarted = RedisPersistence(second_client)

    assert await restarted.get_user_data() == {7: {"prefs": {"model": "sora2"}}}
    assert await restarted.get_chat_data() == {8: {"k": "v"}}
    assert await restarted.get_bot_data() == {"b": 1}
    assert await restarted.get_conversations("settings") == {(8, 7): 0}


async def test_refresh_reloads_what_another_process_wrote(persistence: RedisPersistence) -> None:
    # Webhook mode: the user's last update went to another bot process, which wrote it through.
    await persistence.update_user_data(1, {"model": "veo3"})
    await persistence.update_chat_data(5, {"topic": "cats"})
    user_copy: dict[Any, Any] = {"model": "sora2", "stale": True}
    chat_copy: dict[Any, Any] = {}
    new_user: dict[Any, Any] = {"leftover": 1}

    await persistence.refresh_user_data(1, user_copy)
    await persistence.refresh_chat_data(5, chat_copy)
    await persistence.refresh_user_data(2, new_user)
    await persistence.flush()

    assert user_copy == {"model": "veo3"}
    assert chat_copy == {"topic": "cats"}
    assert new_user == {}
    assert await persistence.get_user_data() == {1: {"model": "veo3"}}


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"when": dt.datetime(2025, 1, 1)}, r"user_data\[1\]\['when'\]: datetime"),
        ({"pair": (1, 2)}, r"\['pair'\]: tuple"),
        ({"nested": {5: "int key"}}, r"\['nested'\] key 5"),
        ({"nan": float("nan")}, r"\['nan'\]: float"),
        ({"obj": object()}, r"\['obj'\]: object"),
    ],
)
async def test_values_that_json_would_change_are_refused_clearly(
    persistence: RedisPersistence, data: dict[str, Any], where: str
) -> None:
    await persistence.update_user_data(1, {"kept": 1})

    with pytest.raises(NotJSONSerializable, match=where):
        await persistence.update_user_data(1, data)

    assert await persistence.get_user_data() == {1: {"kept": 1}}


async def test_prefix_separates_two_bots_on_one_redis(
    redis_client: aioredis.Redis, persistence: RedisPersistence
) -> None:
    other = RedisPersistence(redis_client, prefix="otherbot")
    await persistence.update_user_data(1, {"bot": "reelay"})
    await other.update_user_data(1, {"bot": "other"})
    assert await persistence.get_user_data() == {1: {"bot": "reelay"}}
    assert json.loads(await redis_client.hget("otherbot:ptb:user_data", "1") or "{}") == {"bot": "other"}


def test_update_interval_defaults_to_one_second(persistence: RedisPersistence) -> None:
    assert persistence.update_interval == 1.0


# --------------------------------------------------------------------------- a real Application

CHOOSING = 1
USER_ID = CHAT_ID = 501


class OfflineBotRequest(BaseRequest):
    """PTB's networking extension point, answering only getMe: these handlers never call Telegram,
    so the Application runs its real update and persistence code with no server at all."""

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if not url.endswith("/getMe"):
            raise AssertionError(f"unexpected Bot API call {url}")
        me = {"id": 1, "is_bot": True, "first_name": "Reelay", "username": "reelay_bot"}
        return 200, json.dumps({"ok": True, "result": me}).encode()


async def ask_model(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert context.user_data is not None
    assert context.chat_data is not None
    context.user_data["asked"] = int(context.user_data.get("asked", 0)) + 1
    context.chat_data["last_command"] = "settings"
    context.bot_data["commands"] = int(context.bot_data.get("commands", 0)) + 1
    return CHOOSING


async def model_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert context.user_data is not None
    assert update.message is not None
    context.user_data["model"] = update.message.text
    return ConversationHandler.END


def build_application(
    redis: aioredis.Redis, store_data: PersistenceInput | None = None
) -> Application[Any, Any, Any, Any, Any, Any]:
    app = (
        ApplicationBuilder()
        .token("1:offline")
        .request(OfflineBotRequest())
        .get_updates_request(OfflineBotRequest())
        .persistence(RedisPersistence(redis, store_data=store_data))
        .build()
    )
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("settings", ask_model)],
            states={CHOOSING: [MessageHandler(filters.TEXT & ~filters.COMMAND, model_chosen)]},
            fallbacks=[],
            name="settings",
            persistent=True,
        )
    )
    return app


def text_update(bot: Bot, update_id: int, text: str) -> Update:
    """An incoming message, decoded the way PTB decodes Telegram's JSON (so it knows its bot)."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(dt.datetime.now(dt.UTC).timestamp()),
        "chat": {"id": CHAT_ID, "type": "private"},
        "from": {"id": USER_ID, "first_name": "Ann", "is_bot": False},
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return Update.de_json({"update_id": update_id, "message": message}, bot)


async def test_application_state_survives_a_crash_mid_conversation(
    redis_client: aioredis.Redis, second_client: aioredis.Redis
) -> None:
    everything = PersistenceInput()
    first = build_application(redis_client, everything)
    await first.initialize()
    await first.process_update(text_update(first.bot, 1, "/settings"))
    await first.update_persistence()  # what PTB's background loop does every update_interval
    # Crash: neither stop() nor shutdown() runs, so nothing is flushed at exit.

    second = build_application(second_client, everything)
    await second.initialize()
    assert second.user_data[USER_ID] == {"asked": 1}
    assert second.chat_data[CHAT_ID] == {"last_command": "settings"}
    assert second.bot_data == {"commands": 1}

    # The restored conversation is still waiting for the model: plain text is its answer.
    await second.process_update(text_update(second.bot, 2, "veo3_fast"))
    await second.update_persistence()

    assert second.user_data[USER_ID] == {"asked": 1, "model": "veo3_fast"}
    restored = RedisPersistence(redis_client)
    assert await restored.get_user_data() == {USER_ID: {"asked": 1, "model": "veo3_fast"}}
    assert await restored.get_conversations("settings") == {}  # END removed the state
    await second.shutdown()


async def test_by_default_only_user_data_reaches_redis(redis_client: aioredis.Redis) -> None:
    app = build_application(redis_client)
    await app.initialize()

    await app.process_update(text_update(app.bot, 1, "/settings"))  # writes user, chat and bot data
    await app.update_persistence()

    assert app.persistence is not None
    assert app.persistence.store_data == USER_DATA_ONLY
    assert sorted(await redis_client.keys("reelay:ptb:*")) == [
        "reelay:ptb:conversation:settings",
        "reelay:ptb:user_data",
    ]
    await app.shutdown()


async def redis_calls(redis: aioredis.Redis) -> dict[str, int]:
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def read_preferences(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert context.user_data is not None
    context.user_data.get("model")


async def test_an_update_that_changes_nothing_costs_one_read_and_no_write(redis_client: aioredis.Redis) -> None:
    app = build_application(redis_client)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, read_preferences), group=1)
    await app.initialize()
    await app.process_update(text_update(app.bot, 1, "/settings"))
    await app.process_update(text_update(app.bot, 2, "veo3_fast"))  # the user's data changes: written
    await app.update_persistence()
    before = await redis_calls(redis_client)

    # A prompt: the handlers read the user's preferences and change nothing.
    await app.process_update(text_update(app.bot, 3, "a red fox in the snow"))
    await app.update_persistence()

    after = await redis_calls(redis_client)
    spent = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    assert spent == {"hget": 1, "info": 1}  # the refresh of the user's data (and our own INFO)
    await app.shutdown()


async def test_writing_what_was_last_read_sends_nothing_so_a_newer_value_elsewhere_stays(
    persistence: RedisPersistence, second_client: aioredis.Redis
) -> None:
    await persistence.update_user_data(1, {"model": "veo3"})
    await second_client.hset("reelay:ptb:user_data", "1", '{"model":"sora2"}')  # another bot process

    await persistence.update_user_data(1, {"model": "veo3"})  # PTB's periodic flush, nothing changed here

    assert await persistence.get_user_data() == {1: {"model": "sora2"}}


async def test_a_change_is_written_after_a_refresh_saw_another_value(
    persistence: RedisPersistence, second_client: aioredis.Redis
) -> None:
    await persistence.update_user_data(1, {"model": "veo3"})
    await second_client.hset("reelay:ptb:user_data", "1", '{"model":"sora2"}')
    data: dict[Any, Any] = {}
    await persistence.refresh_user_data(1, data)

    data["model"] = "veo3"  # the user picks veo3 again, on this process
    await persistence.update_user_data(1, data)

    assert await persistence.get_user_data() == {1: {"model": "veo3"}}


async def test_dropping_then_writing_the_same_data_again_stores_it(persistence: RedisPersistence) -> None:
    await persistence.update_user_data(1, {"model": "veo3"})
    await persistence.drop_user_data(1)

    await persistence.update_user_data(1, {"model": "veo3"})

    assert await persistence.get_user_data() == {1: {"model": "veo3"}}
