"""The bot itself: getMe, commands, getChat, getChatMember, button answers, close/logOut."""

from __future__ import annotations

import json
import re
from typing import Any

from sandbox.telegram.errors import bad_request
from sandbox.telegram.methods.base import Call, method
from sandbox.telegram.models import JSON
from sandbox.telegram.serialize import bot_user_dict, chat_full_info, user_dict

_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_COMMANDS = 100
MAX_ALERT_TEXT = 200


@method("getMe")
async def get_me(call: Call) -> JSON:
    """The bot's own ``User``."""
    return bot_user_dict(call.bot.user)


@method("getChat")
async def get_chat(call: Call) -> JSON:
    """Full information about a chat."""
    return chat_full_info(call.chat())


@method("getChatMember")
async def get_chat_member(call: Call) -> JSON:
    """A member's status: the bot administers groups and channels unless set up otherwise; people are members."""
    chat = call.chat()
    user_id = call.params.integer("user_id", required=True)
    if user_id == call.bot.user.id:
        if chat.type == "private":
            return {"status": "member", "user": bot_user_dict(call.bot.user)}
        if not chat.bots_are_admins:
            return {"status": "left", "user": bot_user_dict(call.bot.user)}
        return {"status": "administrator", "user": bot_user_dict(call.bot.user), **_ADMIN_RIGHTS}
    user = call.world.users.get(user_id) if user_id is not None else None
    if user is None:
        raise bad_request("PARTICIPANT_ID_INVALID")
    return {"status": "member", "user": user_dict(user)}


# What ChatMemberAdministrator carries besides its user (a channel administrator that may post).
_ADMIN_RIGHTS: JSON = {
    "can_be_edited": False,
    "is_anonymous": False,
    **{
        right: True
        for right in (
            "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
            "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
            "can_delete_stories", "can_post_messages", "can_edit_messages",
        )
    },
}  # fmt: skip


@method("answerCallbackQuery")
async def answer_callback_query(call: Call) -> bool:
    """Answer a button press (once; a second answer is "query is too old" like Telegram)."""
    p = call.params
    text = p.text("text")
    if text is not None and len(text) > MAX_ALERT_TEXT:
        raise bad_request("MESSAGE_TOO_LONG")
    answer: JSON = {"text": text, "show_alert": p.flag("show_alert"), "url": p.text("url")}
    answer["cache_time"] = p.integer("cache_time") or 0
    call.world.answer_callback(p.text("callback_query_id") or "", answer)
    return True


@method("setMyCommands")
async def set_my_commands(call: Call) -> bool:
    """Store the command list for a scope and language."""
    commands = call.params.get("commands")
    if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
        raise bad_request("BOT_COMMANDS_TOO_MUCH" if isinstance(commands, list) else "commands must be an array")
    for command in commands:
        _check_command(command)
    with call.world.change():
        call.bot.commands[_scope_key(call)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
    return True


@method("getMyCommands")
async def get_my_commands(call: Call) -> list[JSON]:
    """The command list for a scope and language (empty when none was set)."""
    with call.world.lock:
        return list(call.bot.commands.get(_scope_key(call), []))


@method("deleteMyCommands")
async def delete_my_commands(call: Call) -> bool:
    """Forget the command list for a scope and language."""
    with call.world.change():
        call.bot.commands.pop(_scope_key(call), None)
    return True


@method("close")
async def close(call: Call) -> bool:
    """Accepted and ignored: there is no server instance to move."""
    return True


@method("logOut")
async def log_out(call: Call) -> bool:
    """Accepted and ignored: there is no cloud server to log out of."""
    return True


def _check_command(command: Any) -> None:
    if not isinstance(command, dict) or not _COMMAND.match(str(command.get("command", ""))):
        raise bad_request("BOT_COMMAND_INVALID")
    if not 1 <= len(str(command.get("description", ""))) <= 256:
        raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")


def _scope_key(call: Call) -> str:
    scope = call.params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True) + "|" + (call.params.text("language_code") or "")
