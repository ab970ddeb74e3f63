"""Bot API parameters from query strings, JSON bodies, urlencoded and multipart forms, read with types."""

from __future__ import annotations

import json
from typing import Any

from sandbox.telegram.errors import CHAT_NOT_FOUND, TEXT_EMPTY, bad_request
from sandbox.telegram.models import JSON, Upload

# Form fields arrive as strings (python-telegram-bot JSON-encodes complex values into them).
_INT_FIELDS = frozenset(
    {"from_chat_id", "message_id", "reply_to_message_id", "message_thread_id", "width", "height", "duration"}
    | {"offset", "limit", "timeout", "max_connections", "cache_time"}
)
_BOOL_FIELDS = frozenset(
    {"disable_notification", "protect_content", "drop_pending_updates", "show_alert", "supports_streaming"}
    | {"allow_sending_without_reply", "has_spoiler", "disable_content_type_detection", "ok"}
    | {"show_caption_above_media", "disable_web_page_preview"}
)
_JSON_FIELDS = frozenset(
    {"reply_markup", "allowed_updates", "commands", "scope", "reply_parameters", "link_preview_options"}
    | {"entities", "caption_entities", "message_ids", "prices"}
)
_MISSING_REASON = {"chat_id": "chat_id is empty", "text": TEXT_EMPTY}


class Params:
    """One call's parameters; the getters convert and raise Telegram's 400 errors on bad input."""

    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> None:
        self._values = values
        self._uploads = uploads or {}

    def logged(self) -> JSON:
        """Typed values for the call log, with uploads summarised (never their bytes)."""
        out: JSON = {}
        for name, value in self._values.items():
            try:
                out[name] = self._typed(name, value)
            except Exception:  # the log keeps what came in even when the handler will reject it
                out[name] = value
        out |= {name: upload.summary() for name, upload in self._uploads.items()}
        return out

    def has(self, name: str) -> bool:
        """Whether the parameter was sent at all."""
        return name in self._values or name in self._uploads

    def get(self, name: str) -> Any:
        """The typed value, or ``None`` when absent."""
        if name not in self._values:
            return None
        return self._typed(name, self._values[name])

    def text(self, name: str, *, required: bool = False) -> str | None:
        """A string parameter."""
        value = self._values.get(name)
        if value is None:
            if required:
                raise bad_request(_MISSING_REASON.get(name, f'parameter "{name}" is required'))
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        """An integer parameter (400 ``<name> is invalid`` when it is not one)."""
        value = self.get(name)
        if value is None and required:
            raise bad_request(_MISSING_REASON.get(name, f"{name} is empty"))
        return value if value is None else _to_int(name, value)

    def flag(self, name: str) -> bool:
        """A boolean parameter, false when absent."""
        return bool(self.get(name))

    def chat_id(self, name: str = "chat_id") -> int | str:
        """A chat id: an integer, or ``@username`` for a public chat."""
        value = self._values.get(name)
        if value is None or value == "":
            raise bad_request(_MISSING_REASON.get(name, f"{name} is empty"))
        if isinstance(value, str) and value.startswith("@"):
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(CHAT_NOT_FOUND) from None

    def upload(self, name: str) -> Upload | None:
        """The uploaded file for a parameter: its own multipart part, or an ``attach://`` reference."""
        if name in self._uploads:
            return self._uploads[name]
        value = self._values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            return self._uploads.get(value.removeprefix("attach://"))
        return None

    def _typed(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if name in _INT_FIELDS or name == "chat_id":
            return _to_int(name, value) if name != "chat_id" or not value.startswith("@") else value
        if name in _BOOL_FIELDS:
            return value.lower() in ("true", "1")
        if name in _JSON_FIELDS:
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value


def _to_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise bad_request(f"{name} is invalid")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"{name} is invalid") from None
