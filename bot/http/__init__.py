"""The HTTP side of a Reelay process (Starlette, served by uvicorn in the same process)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from bot.http.server import EmbeddedServer


def create_http_app(routes: list[BaseRoute]) -> Starlette:
    """One Starlette app from the routes this process serves."""
    return Starlette(routes=routes)


__all__ = ["EmbeddedServer", "create_http_app"]
