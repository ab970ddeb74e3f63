"""The one error shape of ``/v1``: ``{"error": {"code", "message", "field"}}``, whatever went wrong.

FastAPI's own answers (a body that is not JSON, a query parameter out of range) are translated here too, so a
client never sees another shape, a 5xx or a traceback for bad input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


class ErrorDetail(BaseModel):
    """What went wrong, and the input field it is about (None when it is not about one)."""

    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """Every /v1 error answer."""

    error: ErrorDetail


class ApiError(Exception):
    """An answer other than success: ``status``, a stable ``code``, a message for people, the field at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = dict(headers or {})


def error_response(exc: ApiError) -> JSONResponse:
    """The JSON answer for ``exc``."""
    body = {"error": {"code": exc.code, "message": exc.message, "field": exc.field}}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def invalid(field: str, message: str, code: str = "invalid") -> ApiError:
    """A 422 about one field; the message names it, as the bot's answers do."""
    return ApiError(422, code, f"{field}: {message}", field)


def field_of(loc: tuple[int | str, ...]) -> str:
    """``("body", "metadata")`` → ``metadata``; ``("query", "limit")`` → ``limit``; the body itself → ``body``."""
    parts = [str(part) for part in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else []
    return parts[0] if parts else "body"


def install_error_handlers(app: FastAPI) -> None:
    """Answer ApiError, FastAPI's validation errors and Starlette's HTTP errors in the one shape."""

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors: list[Any] = list(exc.errors())
        first = errors[0] if errors else {"loc": (), "msg": "invalid input", "type": ""}
        if first.get("type") == "json_invalid":
            return error_response(ApiError(422, "invalid_json", "body: the body is not valid JSON", "body"))
        field = field_of(tuple(first.get("loc", ())))
        message = str(first.get("msg", "invalid"))
        return error_response(invalid(field, message))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _CODES.get(exc.status_code, "error")
        # FastAPI's "There was an error parsing the body" (JSON nested past the parser's limit, say) is about the body.
        field = "body" if exc.status_code in (400, 413) else None
        message = str(exc.detail) if exc.status_code != 404 else "no such resource"
        return error_response(ApiError(exc.status_code, code, message, field, exc.headers))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
