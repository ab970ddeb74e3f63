"""The notifier's reference to a delivered preview, stored on the job as one string."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeliveryRef:
    """Where the preview is (chat, message) and the Telegram ``file_id`` to reuse for Publish."""

    chat_id: int
    message_id: int
    file_id: str = ""  # empty when the video went out as a link (too large to upload)

    def encode(self) -> str:
        """``chat:message:file_id`` (file ids never contain a colon)."""
        return f"{self.chat_id}:{self.message_id}:{self.file_id}"

    @classmethod
    def decode(cls, value: str) -> DeliveryRef:
        """Parse :meth:`encode` output."""
        chat, message, file_id = value.split(":", 2)
        return cls(chat_id=int(chat), message_id=int(message), file_id=file_id)
