"""uvicorn embedded in a Reelay process."""

from __future__ import annotations

import contextlib
from collections.abc import Generator

import uvicorn


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
