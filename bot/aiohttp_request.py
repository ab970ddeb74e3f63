"""python-telegram-bot's networking backend on aiohttp instead of httpx.

Every Telegram call (the ack, each status edit, each ``getUpdates``) goes through PTB's ``BaseRequest``.
With ``HTTPXRequest`` a ``sendMessage`` costs the calling process about 1.3-2.2 ms of CPU against a
local Bot API stand-in, and this class about 0.4-0.5 ms (measured in ``benchmarks/``; httpx's connection
pool and anyio layers are most of the difference), so the bot acknowledges several times more prompts
per core. Same semantics: form-encoded parameters or multipart with files, PTB's four timeouts
(``None`` waits forever), timeouts raised as ``TimedOut`` and transport failures as ``NetworkError``.

Use it where ``HTTPXRequest`` would be: ``ApplicationBuilder().request(AiohttpRequest(16))
.get_updates_request(AiohttpRequest(1))``, or ``ExtBot(..., request=AiohttpRequest(16))``. Its session comes from
:func:`outbound.client_session`: ``proxy`` is the egress proxy for the Bot API (``bot/wiring.py`` picks it).
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from outbound import Proxy, client_session, without_credentials


class AiohttpRequest(BaseRequest):
    """A ``telegram.request.BaseRequest`` over one ``aiohttp.ClientSession`` of ``connection_pool_size`` connections.

    ``media_write_timeout`` replaces ``write_timeout`` for requests that upload files, as in ``HTTPXRequest``.
    aiohttp has no separate write timeout: a request's writes are bounded by its total time, which is the
    sum of its timeouts (any of them ``None``: no bound).
    """

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        proxy: Proxy | None = None,
        on_answer: Callable[[str, int | None], None] | None = None,
    ) -> None:
        """``on_answer(method, status)`` hears every request's Bot API method and HTTP status (None: no answer)."""
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._defaults = {
            "read": read_timeout,
            "write": write_timeout,
            "connect": connect_timeout,
            "pool": pool_timeout,
        }
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._on_answer = on_answer
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds it to a long poll's own timeout)."""
        return self._defaults["read"]

    async def initialize(self) -> None:
        """Open the session (idempotent; must run in the event loop that will use it)."""
        if self._session is None or self._session.closed:
            self._session = client_session(
                self._proxy,
                # Each request brings its own timeouts (PTB's four); none for the session as a whole.
                timeout=aiohttp.ClientTimeout(total=None),
                max_connections=self._pool_size,
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the session and its connections (idempotent)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one Bot API request; the HTTP status and the raw body (PTB parses and raises)."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read = self._given(read_timeout, "read")
        write = self._given(write_timeout, "write") if not files else self._media_write(write_timeout)
        connect = self._given(connect_timeout, "connect")
        pool = self._given(pool_timeout, "pool")
        parts = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(p for p in parts if p is not None),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        body: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            body = _form(request_data) if files else request_data.json_parameters
        status: int | None = None
        try:
            async with self._session.request(method, url, data=body, timeout=timeout) as response:
                answer = await response.read()
                status = response.status
                return status, answer
        except TimeoutError as exc:  # aiohttp's timeouts subclass it (asyncio.TimeoutError is an alias)
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            # Some aiohttp errors quote the URL, and a Bot API URL carries the bot token.
            # And a proxy's error may quote the proxy URL with its password.
            detail = without_credentials(str(exc).replace(url, "<Bot API URL>"))
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {detail}") from exc
        finally:
            if self._on_answer is not None:
                self._on_answer(url.rpartition("/")[2], status)  # the URL ends in the method's name

    def _given(self, value: ODVInput[float], name: str) -> float | None:
        return self._defaults[name] if isinstance(value, DefaultValue) else value

    def _media_write(self, value: ODVInput[float]) -> float | None:
        return self._media_write_timeout if isinstance(value, DefaultValue) else value


def _form(request_data: RequestData) -> aiohttp.FormData:
    """Parameters and files as one multipart body."""
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form
