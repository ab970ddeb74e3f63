"""fal.ai's queue API over the shared :class:`ApiClient`: ``Key`` auth, JSON answers, and transport failures turned
into :class:`JobError`, so no HTTP library exception (and never the key) leaves the adapter."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog

from poller.errors import ErrorCode, JobError
from providers.api_client import ApiClient, ApiTransportError, ApiUrlError
from providers.kie_errors import parse_retry_after

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FalAnswer:
    """One complete answer: its status and body (a JSON value, or None when the body was not JSON)."""

    status: int
    body: object
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300

    def mapping(self) -> Mapping[str, Any]:
        """The body as a JSON object ({} when it is not one)."""
        return self.body if isinstance(self.body, Mapping) else {}


class FalQueue:
    """One fal account over a shared :class:`ApiClient`. Only URLs on the configured queue host get the key."""

    def __init__(self, client: ApiClient, queue_url: str, api_key: str) -> None:
        self._client = client
        self.base_url = queue_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._headers = {"Authorization": f"Key {api_key}", "Accept": "application/json"}

    def owns(self, url: str) -> bool:
        """Whether ``url`` is on the queue's own host (a URL fal handed back may be followed with our key)."""
        return _origin(url) == self._origin and url.startswith(self.base_url + "/")

    async def send(
        self,
        method: str,
        url: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        creates: bool = False,
    ) -> FalAnswer:
        """Send one request; raise :class:`JobError` when no complete answer came (``creates``: the request may have
        made a task, so a lost answer leaves the outcome unknown)."""
        try:
            response = await self._client.request(
                method, url, headers=self._headers, json_body=json_body, params=params
            )
        except ApiUrlError as exc:
            log.error("fal.bad_url", error=str(exc))
            raise JobError(ErrorCode.PROVIDER_ERROR, f"bad fal URL: {exc}", request_sent=False) from exc
        except ApiTransportError as exc:
            log.warning("fal.transport_error", path=urlsplit(url).path, request_sent=exc.sent)
            raise JobError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"{urlsplit(url).path}: {exc}",
                request_sent=exc.sent,
                outcome_unknown=exc.sent and creates,
            ) from exc
        try:
            body: object = json.loads(response.body) if response.body else None
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            body = response.text(500)
        return FalAnswer(response.status, body, parse_retry_after(response.retry_after))

    async def aclose(self) -> None:
        """Close the underlying client (idempotent)."""
        await self._client.aclose()


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
