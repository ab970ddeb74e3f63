"""What a provider API call returns or raises, whichever HTTP path carried it (``providers/api_client.py``)."""

from __future__ import annotations

from dataclasses import dataclass

# Provider API answers are small JSON envelopes; a bigger body is a fault, not a result to buffer.
MAX_BODY_BYTES = 1024 * 1024


class ApiTransportError(Exception):
    """The call failed before a complete answer; ``sent`` says whether the provider may have acted on it."""

    def __init__(self, detail: str, *, sent: bool) -> None:
        super().__init__(detail)
        self.sent = sent


class ApiUrlError(Exception):
    """The URL cannot be used at all (a configuration mistake: no retry will fix it)."""


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """A complete answer: status, the one header we read, and the raw body."""

    status: int
    retry_after: str | None
    body: bytes

    @property
    def ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300

    def text(self, limit: int = 500) -> str:
        """The start of the body as text, for logs and error messages."""
        return self.body[:limit].decode("utf-8", "replace")
