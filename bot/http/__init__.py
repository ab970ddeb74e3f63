"""The HTTP side of a Reelay process (Starlette, served by uvicorn in the same process)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bot.http.bodies import MAX_BODY_BYTES, BadBody, BodyLimit
from bot.http.server import EmbeddedServer, server_config


def create_http_app(routes: list[BaseRoute], *, max_body_bytes: int = MAX_BODY_BYTES) -> Starlette:
    """One Starlette app from the routes this process serves; bodies over ``max_body_bytes`` get 413."""
    # Inside Starlette's error middleware, so a body cut off at the limit is answered 413, never 500.
    middleware = [Middleware(BodyLimit, max_bytes=max_body_bytes)]
    # A route that lets a BadBody through still answers its 4xx.
    return Starlette(routes=routes, middleware=middleware, exception_handlers={BadBody: _bad_body})


async def _bad_body(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadBody)
    return exc.response()


__all__ = ["EmbeddedServer", "create_http_app", "server_config"]
