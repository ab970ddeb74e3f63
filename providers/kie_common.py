"""Shared KIE.ai HTTP plumbing: Bearer auth, the ``{code, msg, data}`` envelope, and transport failures
turned into :class:`JobError` so no HTTP library exception ever leaves an adapter."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from poller.errors import ErrorCode, JobError
from providers.api_client import ApiClient, ApiResponse, ApiTransportError, ApiUrlError
from providers.kie_errors import envelope_code, envelope_message, normalize_kie_error, parse_retry_after

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A whole KIE answer ``{code, msg, data}``, not yet judged: for endpoints whose error codes carry meaning (the
    4K upgrade answers 422 while it renders, and 422 again with the video once it is done)."""

    http_status: int
    body: Mapping[str, Any]
    retry_after: float | None = None

    @property
    def code(self) -> int:
        """The body's ``code`` (KIE's verdict), else the HTTP status."""
        code = envelope_code(self.body)
        return code if code is not None else self.http_status

    @property
    def msg(self) -> str:
        """The body's message."""
        return envelope_message(self.body)

    @property
    def data(self) -> object:
        """The body's ``data``."""
        return self.body.get("data")

    def error(self) -> JobError:
        """The answer as an error of the taxonomy (for a ``code`` that is not a success)."""
        return normalize_kie_error(self.http_status, self.body, retry_after=self.retry_after)


class KieApi:
    """One KIE.ai account over a shared :class:`ApiClient`; answers are unwrapped to ``data``."""

    def __init__(self, client: ApiClient, base_url: str, api_key: str, *, provider: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._provider = provider

    async def post(self, path: str, body: Mapping[str, Any]) -> object:
        """POST JSON and return the envelope's ``data``; raise :class:`JobError` on any failure."""
        return await self._call("POST", path, json_body=body)

    async def get(self, path: str, params: Mapping[str, str]) -> object:
        """GET with query parameters and return the envelope's ``data``; raise :class:`JobError`."""
        return await self._call("GET", path, params=params)

    async def aclose(self) -> None:
        """Close the underlying client (idempotent)."""
        await self._client.aclose()

    async def post_envelope(self, path: str, body: Mapping[str, Any]) -> Envelope:
        """POST JSON and return the whole answer, whatever its ``code``; raise :class:`JobError` only when there is
        no readable answer (transport, a body that is not a JSON object)."""
        response = await self._send("POST", path, json_body=body)
        return self._envelope(path, response, creates=True)

    async def get_envelope(self, path: str, params: Mapping[str, str]) -> Envelope:
        """GET and return the whole answer, whatever its ``code`` (see :meth:`post_envelope`)."""
        response = await self._send("GET", path, params=params)
        return self._envelope(path, response, creates=False)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> object:
        response = await self._send(method, path, json_body=json_body, params=params)
        return self._unwrap(path, response, creates=method == "POST")

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        url = f"{self._base_url}{path}"
        try:
            return await self._client.request(method, url, json_body=json_body, params=params, headers=self._headers)
        except ApiUrlError as exc:
            log.error("kie.bad_base_url", provider=self._provider, error=str(exc))
            raise JobError(ErrorCode.PROVIDER_ERROR, f"bad KIE URL: {exc}", request_sent=False) from exc
        except ApiTransportError as exc:
            # Sent means the provider may have acted on it: for a create the outcome is then unknown,
            # since a task may exist that we have no id for.
            raise self._transport_error(
                path, exc, request_sent=exc.sent, outcome_unknown=exc.sent and method == "POST"
            ) from exc

    def _transport_error(
        self, path: str, exc: Exception, *, request_sent: bool, outcome_unknown: bool = False
    ) -> JobError:
        cause = exc.__cause__ or exc
        log.warning(
            "kie.transport_error",
            provider=self._provider,
            path=path,
            error=type(cause).__name__,
            request_sent=request_sent,
        )
        detail = str(exc) or type(cause).__name__
        return JobError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"{path}: {detail}",
            request_sent=request_sent,
            outcome_unknown=outcome_unknown,
        )

    def _unwrap(self, path: str, response: ApiResponse, *, creates: bool = False) -> object:
        answer = self._envelope(path, response, creates=creates)
        if not response.ok:
            raise answer.error()
        code = envelope_code(answer.body)
        if code is not None and code != 200:
            raise answer.error()
        return answer.data

    def _envelope(self, path: str, response: ApiResponse, *, creates: bool) -> Envelope:
        retry_after = parse_retry_after(response.retry_after)
        try:
            body: object = json.loads(response.body)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            # RecursionError: nested deeper than the parser's stack (a few hundred KiB of brackets do it).
            body = None
            if response.ok:
                log.warning("kie.malformed_body", provider=self._provider, path=path, body=response.text(500))
                # A 2xx to a create means KIE accepted it, but we cannot read the task id.
                raise JobError(
                    ErrorCode.PROVIDER_UNAVAILABLE,
                    f"{path}: malformed body (HTTP {response.status}): {response.text(200)}",
                    outcome_unknown=creates,
                ) from None
        if isinstance(body, Mapping):
            return Envelope(response.status, body, retry_after)
        if not response.ok:
            raise normalize_kie_error(
                response.status, body if body is not None else response.text(2000), retry_after=retry_after
            )
        raise JobError(
            ErrorCode.PROVIDER_UNAVAILABLE, f"{path}: malformed body: not a JSON object", outcome_unknown=creates
        )


def task_id_from(data: object, path: str) -> str:
    """The ``taskId`` of a create answer's ``data``; a missing id is a malformed (retryable) answer."""
    task_id = data.get("taskId") if isinstance(data, Mapping) else None
    if not isinstance(task_id, str) or not task_id:
        # The create was answered with success, so a task probably exists: never blindly resubmit.
        raise JobError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"{path}: malformed body: no taskId in {str(data)[:200]}",
            outcome_unknown=True,
        )
    return task_id
