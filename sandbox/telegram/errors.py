"""Bot API failures as Telegram words them: an HTTP status plus ``error_code``/``description``."""

from __future__ import annotations

from typing import Any


class BotApiError(Exception):
    """A failed Bot API call, rendered as ``{"ok": false, "error_code", "description"[, "parameters"]}``."""

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram answers with."""
        body: dict[str, Any] = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> BotApiError:
    """400 with Telegram's ``Bad Request: `` prefix."""
    return BotApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> BotApiError:
    """403 with Telegram's ``Forbidden: `` prefix."""
    return BotApiError(403, f"Forbidden: {reason}")


def conflict(reason: str) -> BotApiError:
    """409 with Telegram's ``Conflict: `` prefix."""
    return BotApiError(409, f"Conflict: {reason}")


def too_many_requests(retry_after: int) -> BotApiError:
    """429 flood control, with ``parameters.retry_after`` as Telegram sends it."""
    return BotApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def not_found() -> BotApiError:
    """404, for a malformed token or an unknown method."""
    return BotApiError(404, "Not Found")


def unauthorized() -> BotApiError:
    """401, for a well-formed token that belongs to no bot."""
    return BotApiError(401, "Unauthorized")


def entity_too_large() -> BotApiError:
    """413, for an upload over the size limit."""
    return BotApiError(413, "Request Entity Too Large")


CHAT_NOT_FOUND = "chat not found"
MESSAGE_TO_EDIT_NOT_FOUND = "message to edit not found"
MESSAGE_TO_DELETE_NOT_FOUND = "message to delete not found"
MESSAGE_TO_COPY_NOT_FOUND = "message to copy not found"
MESSAGE_TO_FORWARD_NOT_FOUND = "message to forward not found"
MESSAGE_TOO_LONG = "message is too long"
CAPTION_TOO_LONG = "message caption is too long"
TEXT_EMPTY = "message text is empty"
BUTTON_DATA_INVALID = "BUTTON_DATA_INVALID"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
WRONG_FILE_ID = "wrong file identifier/HTTP URL specified"
URL_CONTENT_FAILED = "failed to get HTTP URL content"
FILE_TOO_BIG = "file is too big"
