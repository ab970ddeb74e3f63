"""``reelay doctor``: every dependency checked before the first user meets it, one line per check.

Each line starts with ✓ or ✗; a ✗ says what to do. Checks run one after another, each bounded in time, with the
same clients the product uses (so a proxy or a TLS problem shows here as it would in production).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TextIO

import aiohttp
from aiohttp import web
from telegram import Bot
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.redaction import url_without_password
from bot.settings import Settings
from bot.startup import StartupError, check_bot, check_redis
from bot.wiring import build_blob_store, build_bot, build_network, make_redis
from outbound import Network, client_session
from poller.errors import JobError
from providers.api_client import ApiClient
from providers.kie_account import credit_balance
from storage.blobs_s3 import S3BlobStore
from storage.redis_support import RedisClient

CHECK_TIMEOUT_S = 20.0
PROBE_BYTES = b"reelay doctor probe\n"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report: what was checked, whether it passed, what was found or what to do."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """The printed line."""
        return f"{'✓' if self.ok else '✗'} {self.name}: {self.detail}"


Check = Callable[[Settings], AsyncIterator[Finding]]


async def run_doctor(settings: Settings, out: TextIO) -> bool:
    """Run every check, printing each finding as it comes; True when all passed."""
    passed = True
    print(Finding("configuration", True, "valid").line(), file=out, flush=True)
    for name, check in CHECKS:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                async for finding in check(settings):
                    passed &= finding.ok
                    print(finding.line(), file=out, flush=True)
        except TimeoutError:
            passed = False
            print(Finding(name, False, f"no answer within {CHECK_TIMEOUT_S:g} s").line(), file=out, flush=True)
    return passed


# --------------------------------------------------------------------------- Redis


async def check_redis_server(settings: Settings) -> AsyncIterator[Finding]:
    """Reachable, its version, and whether it keeps an append-only file."""
    redis = make_redis(settings)
    try:
        await check_redis(redis, settings.redis.url)
        server, persistence = await _info(redis, "server"), await _info(redis, "persistence")
    except StartupError as exc:
        yield Finding("redis", False, f"{exc}: check the URL, the password and that Redis runs")
        return
    finally:
        await redis.aclose()
    where = url_without_password(settings.redis.url)
    yield Finding("redis", True, f"Redis {server.get('redis_version', '?')} answers at {where}")
    if str(persistence.get("aof_enabled")) == "1":
        yield Finding("redis persistence", True, "append-only file on")
    else:
        yield Finding(
            "redis persistence",
            False,
            "append-only file off: a crash of Redis loses jobs and credits since its last snapshot "
            "(set appendonly yes, appendfsync everysec)",
        )


async def _info(redis: RedisClient, section: str) -> dict[str, object]:
    info: dict[str, object] = await redis.info(section)
    nodes = [value for value in info.values() if isinstance(value, dict)]
    # A cluster client answers per node: the check holds only if it holds on every node.
    if nodes and all(isinstance(value, dict) for value in info.values()):
        merged: dict[str, object] = dict(nodes[0])
        if any(str(node.get("aof_enabled")) != "1" for node in nodes):
            merged["aof_enabled"] = 0
        return merged
    return info


# --------------------------------------------------------------------------- Telegram


async def check_telegram(settings: Settings) -> AsyncIterator[Finding]:
    """The token works, the webhook is as the mode needs it, and the bot may post to the publish channel."""
    bot = build_bot(settings, rate_limited=False, pool_size=2, network=build_network(settings))
    try:
        try:
            await check_bot(bot, settings.telegram.api_base_url)
        except StartupError as exc:
            fix = "copy the token from @BotFather" if exc.setting == "telegram.token" else "check the URL or proxy"
            yield Finding("telegram", False, f"{exc}: {fix}")
            return
        yield Finding("telegram", True, f"the token belongs to @{bot.username}")
        yield await _webhook_state(bot, settings)
        if settings.telegram.publish_channel_id is not None:
            yield await _publish_channel(bot, settings.telegram.publish_channel_id)
    finally:
        await bot.shutdown()


async def _webhook_state(bot: Bot, settings: Settings) -> Finding:
    try:
        info = await bot.get_webhook_info()
    except TelegramError as exc:
        return Finding("telegram webhook", False, f"getWebhookInfo failed: {exc.message}")
    tg = settings.telegram
    if tg.mode == "polling":
        note = "a webhook is set; long polling removes it at start" if info.url else "none set (long polling)"
        return Finding("telegram webhook", True, note)
    wanted = (settings.http.public_url or "").rstrip("/") + tg.webhook_path
    if info.url == wanted and info.last_error_message:
        return Finding(
            "telegram webhook",
            False,
            f"Telegram cannot deliver updates to it: {info.last_error_message} (check http.public_url and TLS)",
        )
    state = "set" if info.url == wanted else "set at start"
    return Finding("telegram webhook", True, f"{state}: {url_without_password(wanted)}")


async def _publish_channel(bot: Bot, channel: int | str) -> Finding:
    try:
        member = await bot.get_chat_member(channel, bot.id)
    except TelegramError as exc:
        return Finding("publish channel", False, f"{exc.message}: check telegram.publish_channel_id")
    if member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
        return Finding("publish channel", True, f"the bot is an administrator of {channel}")
    return Finding(
        "publish channel",
        False,
        f"the bot is {member.status} in {channel}, not an administrator: add it as one (Publish posts there)",
    )


# --------------------------------------------------------------------------- the video store


async def check_video_store(settings: Settings) -> AsyncIterator[Finding]:
    """Write, read back (through a link, as users get it) and delete a small object under the prefix."""
    network = build_network(settings)
    blobs = build_blob_store(settings, network)
    s3 = isinstance(blobs, S3BlobStore)
    name = "s3" if s3 else "video store"
    key = f"{settings.s3.prefix if s3 else ''}.reelay-doctor-{secrets.token_hex(4)}"
    try:
        if isinstance(blobs, S3BlobStore):
            await blobs.start()
        await blobs.put_stream(key, _one_chunk(PROBE_BYTES), "text/plain")
        link = await blobs.url_for(key, 300)
        read_back = await _read_link(link, network) if link.startswith(("http://", "https://")) else PROBE_BYTES
        await blobs.delete(key)
    except (JobError, OSError, ValueError) as exc:
        setting = "s3.bucket and the S3 credentials" if s3 else "storage.local_dir"
        yield Finding(name, False, f"{_reason(exc)}: check {setting}")
        return
    finally:
        if isinstance(blobs, S3BlobStore):
            await blobs.aclose()
    if read_back != PROBE_BYTES:
        yield Finding(name, False, "wrote a test object but its link does not serve it back: check the endpoint")
        return
    where = f"s3://{settings.s3.bucket}/{settings.s3.prefix}" if s3 else str(settings.storage.local_dir)
    yield Finding(name, True, f"wrote, read through a link and deleted a test object in {where}")


async def _read_link(url: str, network: Network) -> bytes:
    async with _session_for(url, network) as session, session.get(url) as response:
        if response.status != 200:
            raise ValueError(f"the link answered HTTP {response.status}")
        return await response.read()


def _session_for(url: str, network: Network) -> aiohttp.ClientSession:
    """A session on the route the product takes to ``url`` (the egress proxy, or direct)."""
    timeout = aiohttp.ClientTimeout(total=10)
    return client_session(network.proxy_for(url), timeout=timeout, max_connections=2)


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


# --------------------------------------------------------------------------- KIE


async def check_kie(settings: Settings) -> AsyncIterator[Finding]:
    """The key works, and the account has credits left."""
    kie = settings.providers.kie
    client = ApiClient(kie.timeout_s, 2, proxy=build_network(settings).proxy_for(kie.base_url))
    try:
        balance = await credit_balance(client, kie.base_url, kie.api_key.get_secret_value())
    except JobError as exc:
        refused = " code 401" in exc.raw or " code 403" in exc.raw
        fix = "check providers.kie.api_key" if refused else "check providers.kie.base_url or the proxy"
        yield Finding("kie", False, f"{'the key was refused' if refused else 'no usable answer'}: {exc.raw}: {fix}")
        return
    finally:
        await client.aclose()
    if balance <= 0:
        yield Finding("kie", False, f"the key works but the balance is {balance:g} credits: top the account up")
        return
    yield Finding("kie", True, f"the key works; balance {balance:g} credits")


# --------------------------------------------------------------------------- the public URL


async def check_public_url(settings: Settings) -> AsyncIterator[Finding]:
    """When set: https where Telegram needs it, and the URL reaches this host's HTTP port."""
    public_url = settings.http.public_url
    if not public_url:
        yield Finding("public url", True, "not set (provider callbacks off; polling only)")
        return
    if settings.telegram.mode == "webhook" and not public_url.startswith("https://"):
        yield Finding("public url", False, "Telegram delivers webhooks to https:// URLs only: fix http.public_url")
        return
    nonce = secrets.token_urlsafe(12)
    try:
        runner = await _serve_nonce(settings.http.host, settings.http.port, nonce)
    except OSError:
        runner = None  # the port is taken: a Reelay may be running behind the URL already
    try:
        answer = await _get_json(public_url.rstrip("/") + "/healthz", build_network(settings))
    finally:
        if runner is not None:
            await runner.cleanup()
    if answer is None:
        yield Finding("public url", False, f"{public_url} does not answer /healthz: check DNS, TLS and the proxy")
    elif runner is not None and answer.get("doctor") != nonce:
        yield Finding("public url", False, f"{public_url} answers, but not from this host's http.port")
    else:
        yield Finding("public url", True, f"{public_url} reaches {'this host' if runner else 'a running Reelay'}")


async def _serve_nonce(host: str, port: int, nonce: str) -> web.AppRunner:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "doctor": nonce})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner


async def _get_json(url: str, network: Network) -> dict[str, object] | None:
    try:
        async with _session_for(url, network) as session, session.get(url) as response:
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _reason(exc: BaseException) -> str:
    return exc.raw if isinstance(exc, JobError) and exc.raw else (str(exc) or type(exc).__name__)


CHECKS: tuple[tuple[str, Check], ...] = (
    ("redis", check_redis_server),
    ("telegram", check_telegram),
    ("video store", check_video_store),
    ("kie", check_kie),
    ("public url", check_public_url),
)

__all__ = ["CHECKS", "Finding", "run_doctor"]
