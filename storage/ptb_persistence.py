"""python-telegram-bot persistence on Redis that writes through.

ptbcontrib's Redis persistence keeps everything in memory and writes at shutdown, so a crash
loses every change since start. Here each ``update_*`` call PTB makes (every ``update_interval``
seconds, 1 s by default) goes straight to Redis and nothing is buffered: a crash loses at most the
changes of the last interval, and ``flush`` has nothing left to do.

PTB hands over every user and chat an update touched, changed or not, and Reelay writes them at the
end of every update; most updates (a prompt) change nothing. So each entry's JSON as this process last
read or wrote it is remembered, and an update that would write the same again is skipped: no Redis
round trip for an unchanged entry. (If another process changed the entry since, skipping keeps its
newer value instead of overwriting it with this process's stale copy.)

By default only user data is kept (:data:`USER_DATA_ONLY`): Reelay keeps its users' preferences there
and nothing in chat, bot or callback data, and every kind kept costs a Redis read before each update.
Pass ``store_data`` to keep more.

Data is stored as JSON, so it must survive a JSON round trip unchanged: ``None``, bools, ints,
floats, strings, lists, and dicts with string keys (Reelay's user and chat data are such dicts).
Anything else (a tuple, a datetime, an int dict key, a Bot) is refused with
:class:`NotJSONSerializable` naming where it sits, instead of being silently changed.

Layout (see ``storage.keys``): ``<prefix>:ptb:user_data`` and ``…:chat_data`` are hashes keyed by
id; ``…:bot_data`` and ``…:callback_data`` are JSON strings; ``…:conversation:<name>`` is a hash
from the JSON conversation key (``[chat_id, user_id]``) to the JSON state.
"""

from __future__ import annotations

import json
import math
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.pipelined_commands import PipelinedCommands
from storage.redis_support import RedisClient, require_text_responses, text_hash, text_optional

Data = dict[Any, Any]
ConversationKey = tuple[int | str, ...]
ConversationDict = dict[ConversationKey, object]
CallbackData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]

USER_DATA_ONLY = PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False)
_ABSENT = ""  # what an entry that is not in Redis is remembered as


class NotJSONSerializable(TypeError):
    """A value that would not come back unchanged from JSON; ``path`` says where it is."""

    def __init__(self, path: str, value: object) -> None:
        super().__init__(
            f"{path}: {type(value).__name__} cannot be persisted; store None, bool, int, float, str, "
            "lists and dicts with str keys only"
        )
        self.path = path


class RedisPersistence(BasePersistence[Data, Data, Data]):
    """A :class:`telegram.ext.BasePersistence` whose every update is written to Redis at once."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        prefix: str = DEFAULT_PREFIX,
        store_data: PersistenceInput | None = None,
        update_interval: float = 1.0,
    ) -> None:
        super().__init__(store_data=store_data or USER_DATA_ONLY, update_interval=update_interval)
        require_text_responses(redis)
        self._redis = redis
        self._commands = PipelinedCommands.of(redis)  # the refresh before every update: the cheap path
        self._keys = RedisKeys(prefix)
        # (kind, id) -> the entry's JSON in Redis as this process last read or wrote it.
        self._known: dict[tuple[str, int], str] = {}

    # ------------------------------------------------------------------ user and chat data

    async def get_user_data(self) -> dict[int, Data]:
        """Every stored user's data, keyed by user id."""
        return await self._load_by_id("user_data")

    async def update_user_data(self, user_id: int, data: Data) -> None:
        """Write one user's data now (an empty dict removes the entry)."""
        await self._store_by_id("user_data", user_id, data)

    async def drop_user_data(self, user_id: int) -> None:
        """Delete one user's data."""
        await self._drop_by_id("user_data", user_id)

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        """Reload one user's data before an update is handled (see :meth:`_refresh`)."""
        await self._refresh("user_data", user_id, user_data)

    async def get_chat_data(self) -> dict[int, Data]:
        """Every stored chat's data, keyed by chat id."""
        return await self._load_by_id("chat_data")

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        """Write one chat's data now (an empty dict removes the entry)."""
        await self._store_by_id("chat_data", chat_id, data)

    async def drop_chat_data(self, chat_id: int) -> None:
        """Delete one chat's data."""
        await self._drop_by_id("chat_data", chat_id)

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        """Reload one chat's data before an update is handled (see :meth:`_refresh`)."""
        await self._refresh("chat_data", chat_id, chat_data)

    # ------------------------------------------------------------------ bot and callback data

    async def get_bot_data(self) -> Data:
        """The stored bot data, or an empty dict."""
        raw = text_optional(await self._redis.get(self._keys.ptb("bot_data")))
        self._known[("bot_data", 0)] = raw or _ABSENT
        return dict(json.loads(raw)) if raw else {}

    async def update_bot_data(self, data: Data) -> None:
        """Write the bot data now (unless it is what Redis holds already)."""
        raw = _dumps(data, "bot_data")
        if self._known.get(("bot_data", 0)) != raw:
            await self._redis.set(self._keys.ptb("bot_data"), raw)
            self._known[("bot_data", 0)] = raw

    async def refresh_bot_data(self, bot_data: Data) -> None:
        """Nothing to refresh (see :meth:`_no_refresh`)."""
        self._no_refresh()

    async def get_callback_data(self) -> CallbackData | None:
        """The stored CallbackDataCache contents, or None when nothing was stored."""
        raw = await self._redis.get(self._keys.ptb("callback_data"))
        if not raw:
            return None
        buttons, queries = json.loads(raw)
        # JSON turned the tuples PTB hands us into lists; give PTB its tuples back.
        return [(str(uuid), float(at), dict(data)) for uuid, at, data in buttons], dict(queries)

    async def update_callback_data(self, data: CallbackData) -> None:
        """Write the CallbackDataCache contents now."""
        buttons, queries = data
        plain = [[uuid, at, mapping] for uuid, at, mapping in buttons], queries
        await self._redis.set(self._keys.ptb("callback_data"), _dumps(list(plain), "callback_data"))

    # ------------------------------------------------------------------ conversations

    async def get_conversations(self, name: str) -> ConversationDict:
        """The states of the ConversationHandler ``name``, keyed by conversation key tuples."""
        raw = text_hash(await self._redis.hgetall(self._keys.ptb_conversation(name)))
        return {tuple(json.loads(key)): json.loads(state) for key, state in raw.items()}

    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        """Write one conversation's new state now; ``None`` ends it (the entry is removed)."""
        redis_key = self._keys.ptb_conversation(name)
        field = _dumps(list(key), f"conversation {name!r} key")
        if new_state is None:
            await self._redis.hdel(redis_key, field)
        else:
            await self._redis.hset(redis_key, field, _dumps(new_state, f"conversation {name!r}{key}"))

    # ------------------------------------------------------------------ lifecycle

    async def flush(self) -> None:
        """Nothing is buffered: every update was already written. The Redis client is the caller's."""

    @staticmethod
    def _no_refresh() -> None:
        # Bot data is written only at start-up; nothing to reload.
        return None

    async def _refresh(self, kind: str, entity_id: int, data: Data) -> None:
        # In webhook mode several bot processes share the updates, so a user's next update may land on
        # another process than the last one: reload from Redis. The bot flushes its changes at the end
        # of every update (bot/handlers/persist.py), so Redis is never behind this process's copy.
        raw = text_optional(await self._commands.execute("HGET", self._keys.ptb(kind), str(entity_id)))
        self._known[(kind, entity_id)] = raw or _ABSENT
        fresh = dict(json.loads(raw)) if raw else {}
        data.clear()
        data.update(fresh)

    # ------------------------------------------------------------------ helpers

    async def _load_by_id(self, kind: str) -> dict[int, Data]:
        raw = text_hash(await self._redis.hgetall(self._keys.ptb(kind)))
        loaded = {int(entity_id): dict(json.loads(value)) for entity_id, value in raw.items()}
        self._known.update(((kind, entity_id), raw[str(entity_id)]) for entity_id in loaded)
        return loaded

    async def _store_by_id(self, kind: str, entity_id: int, data: Data) -> None:
        # PTB creates an empty dict for every user it sees; keep Redis free of those.
        raw = _dumps(data, f"{kind}[{entity_id}]") if data else _ABSENT
        if self._known.get((kind, entity_id)) == raw:
            return
        if not data:
            await self._redis.hdel(self._keys.ptb(kind), str(entity_id))
        else:
            await self._redis.hset(self._keys.ptb(kind), str(entity_id), raw)
        self._known[(kind, entity_id)] = raw

    async def _drop_by_id(self, kind: str, entity_id: int) -> None:
        await self._redis.hdel(self._keys.ptb(kind), str(entity_id))
        self._known[(kind, entity_id)] = _ABSENT


def _dumps(value: object, path: str) -> str:
    """JSON for ``value``, refusing anything JSON would not give back unchanged."""
    _check_json(value, path)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _check_json(value: object, path: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotJSONSerializable(path, value)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotJSONSerializable(f"{path} key {key!r}", key)
            _check_json(item, f"{path}[{key!r}]")
        return
    raise NotJSONSerializable(path, value)
