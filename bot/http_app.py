"""The HTTP side (Starlette, served by uvicorn in the bot's process): health and readiness."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Generator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


def create_http_app(readiness: ReadinessCheck) -> Starlette:
    """``/healthz`` answers while the process lives; ``/readyz`` only when every dependency is ready."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        checks = await readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
        )

    return Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz)])


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside a process that owns its own signal handling (``reelay run`` stops everything on SIGTERM)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn would replace our SIGTERM/SIGINT handlers and re-raise the signal after its own shutdown.
        yield
