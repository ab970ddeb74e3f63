"""Start-up checks of the services a process depends on, each failure one :class:`StartupError` that names the
setting to check (the CLI prints it as one line and exits 3; ``reelay doctor`` reuses the same wording).

Nothing here prints a secret: URLs are shown without their password, and python-telegram-bot's own message for
a rejected token (which quotes the token) is never passed on.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import AsyncIterator

from redis import exceptions as redis_errors
from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot.redaction import url_without_password
from poller.errors import JobError, ReelayError
from poller.ports import BlobStore
from storage.redis_support import RedisClient

EXIT_DEPENDENCY = 3
WRITE_CHECK_KEY = ".reelay-write-check"  # + the process id; deleted again at once


class StartupError(ReelayError):
    """A dependency does not answer or refuses; ``setting`` is what the operator should check."""

    def __init__(self, what: str, setting: str) -> None:
        super().__init__(f"{what} ({setting})")
        self.setting = setting


async def check_redis(redis: RedisClient, url: str) -> None:
    """PING; a refused, unreachable or password-protected Redis is a :class:`StartupError`."""
    shown = url_without_password(url)
    try:
        await redis.ping()
    except redis_errors.AuthenticationError as exc:
        raise StartupError(f"Redis at {shown} refused the password: {_first_line(exc)}", "redis.url") from exc
    except redis_errors.ResponseError as exc:
        # NOAUTH and friends: the server wants credentials the URL does not carry.
        raise StartupError(f"Redis at {shown} refused: {_first_line(exc)}", "redis.url") from exc
    except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
        raise StartupError(f"Redis at {shown} does not answer: {_first_line(exc)}", "redis.url") from exc


async def check_bot(bot: Bot, api_base_url: str) -> None:
    """``bot.initialize()`` (which asks ``getMe``), with Telegram's refusals named by the setting to fix."""
    try:
        await bot.initialize()
    except InvalidToken as exc:
        # PTB's own message quotes the whole token: never let it out.
        raise StartupError("Telegram rejected the bot token", "telegram.token") from exc
    except TelegramError as exc:
        raise StartupError(
            f"Telegram does not answer at {url_without_password(api_base_url)}: {_first_line(exc)}",
            "telegram.api_base_url",
        ) from exc


async def check_blob_store(blobs: BlobStore, *, setting: str, process_id: str, key_prefix: str = "") -> None:
    """Write and delete a tiny object under the videos' key prefix: a missing bucket, missing rights or a full
    disk show now, not at the first finished video."""
    key = f"{key_prefix}{WRITE_CHECK_KEY}-{process_id.replace(':', '-')}"
    try:
        await blobs.put_stream(key, _one_chunk(f"written at start-up, {time.time():.0f}\n".encode()), "text/plain")
        await blobs.delete(key)
    except (JobError, OSError, ValueError) as exc:
        raise StartupError(f"the video store is not writable: {_reason(exc)}", setting) from exc


def bind_http_socket(host: str, port: int) -> socket.socket:
    """The listening socket for the HTTP server, bound now so that a port in use is reported at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used: {exc.strerror or exc}"
        raise StartupError(f"HTTP port {port} on {host} {reason}", "http.port") from exc
    sock.setblocking(False)
    return sock


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _reason(exc: BaseException) -> str:
    return exc.raw if isinstance(exc, JobError) and exc.raw else _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
