"""uvicorn embedded in a Reelay process, configured for the open internet."""

from __future__ import annotations

import contextlib
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

from bot.http.header_timeout import HEADER_TIMEOUT_S, header_timeout_protocol
from bot.logs import redact_access_log


def server_config(
    app: ASGIApp, *, host: str, port: int, max_connections: int, header_timeout_s: float = HEADER_TIMEOUT_S
) -> uvicorn.Config:
    """uvicorn's configuration: at most ``max_connections`` served at once (503 beyond), request headers due
    within ``header_timeout_s``, access lines without callback tokens, logs through our structlog setup."""
    redact_access_log()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=header_timeout_protocol(header_timeout_s),
        limit_concurrency=max_connections,
        log_config=None,  # our structlog setup handles uvicorn's loggers
        lifespan="off",
    )


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside a process that owns its own signal handling (``reelay run`` stops everything on SIGTERM)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn would replace our SIGTERM/SIGINT handlers and re-raise the signal after its own shutdown.
        yield

    @property
    def bound_port(self) -> int | None:
        """The port actually bound (useful with port 0)."""
        for server in self.servers:
            for sock in server.sockets:
                port: int = sock.getsockname()[1]
                return port
        return None
