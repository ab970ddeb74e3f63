"""``reelay sandbox``: the real Reelay with every outside service replaced by a local stand-in, plus a web chat.

One process starts, on 127.0.0.1: a Redis (``redis-server`` when installed, else fakeredis), the KIE.ai
simulator, the Telegram Bot API emulator, Reelay itself in the ``run`` role (unchanged code, pointed at the
stand-ins through its settings) and the web chat. ``Sandbox.stop`` stops all of them in reverse order.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import socket
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog
import uvicorn
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.app import Reelay, Role
from bot.http import EmbeddedServer
from bot.settings import Settings
from sandbox.fal import FalScenario, FalSimulator
from sandbox.fal import create_app as create_fal_app
from sandbox.kie_simulator import KieSimulator
from sandbox.kie_simulator import create_app as create_kie_app
from sandbox.local_redis import LocalRedis, start_local_redis
from sandbox.serve import ThreadedServer, free_port
from sandbox.telegram import TelegramEmulator
from sandbox.telegram import create_app as create_telegram_app
from sandbox.webchat import ChatFeed, ChatSetup
from sandbox.webchat import create_app as create_webchat_app

log = structlog.get_logger(__name__)

HOST = "127.0.0.1"
BOT_TOKEN = "7000000001:SANDBOX-not-a-real-token"
KIE_API_KEY = "sandbox-kie-key"
FAL_API_KEY = "sandbox-fal-key"
USER_ID = 1001
USER_NAME = "You"
CHANNEL_TITLE = "Reelay Showcase"
CHANNEL_USERNAME = "reelay_showcase"
STARTING_CREDITS = 1000
SANDBOX_PACKS = [
    {
        "id": "p100",
        "credits": 100,
        "stars": 50,
        "label": "100 credits",
        "label_translations": {"ru": "100 кредитов", "es": "100 créditos"},
    },
    {
        "id": "p500",
        "credits": 500,
        "stars": 200,
        "label": "500 credits",
        "label_translations": {"ru": "500 кредитов", "es": "500 créditos"},
    },
]
WEBCHAT_SHUTDOWN_S = 3
LogLevel = Literal["debug", "info", "warning", "error"]


class SandboxError(Exception):
    """The sandbox could not start (a port in use, a stand-in that did not come up)."""


@dataclass(frozen=True)
class SandboxOptions:
    """What ``reelay sandbox`` can be told; the defaults make a pleasant demo."""

    port: int = 8080
    data_dir: Path = Path(".sandbox")
    # None: no redis-server, so an in-memory fakeredis server (nothing persisted).
    redis_server: str | None = field(default_factory=lambda: shutil.which("redis-server"))
    completion_s: tuple[float, float] = (5.0, 15.0)
    failure_rate: float = 0.0
    moderation_rate: float = 0.0
    poll_interval_s: float = 2.0
    first_poll_s: float = 1.0
    log_level: LogLevel = "warning"
    seed: int | None = None


@dataclass(frozen=True)
class SandboxUrls:
    """Every address the sandbox serves."""

    webchat: str
    telegram: str
    kie: str
    reelay: str
    redis: str
    fal: str = ""  # the fal simulator's queue URL ("" : providers.fal is left unset)

    @property
    def videos(self) -> str:
        """Where the web chat serves the local blob store (``storage.local_public_url``)."""
        return f"{self.webchat}/videos"

    @property
    def console(self) -> str:
        """The operator console of the sandbox's Reelay."""
        return f"{self.reelay}/console/"


class _CodeOnlySettings(Settings):
    """Settings taken only from code: ``REELAY_*`` variables meant for a real deployment must not leak in."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def sandbox_settings(
    options: SandboxOptions,
    urls: SandboxUrls,
    *,
    videos_dir: Path,
    channel_id: int,
    reelay_port: int,
    console_token: str | None = None,
) -> Settings:
    """Reelay's settings for the sandbox: the stand-ins' URLs, fast polling, local disk, generous credits, and the
    operator console open to ``console_token``."""
    values: dict[str, Any] = {
        "telegram": {"token": BOT_TOKEN, "api_base_url": f"{urls.telegram}/bot", "publish_channel_id": channel_id},
        "redis": {"url": urls.redis},
        "storage": {"backend": "local", "local_dir": videos_dir, "local_public_url": urls.videos},
        # offer_upgrades: 1080p and 4K under Veo videos, so the sandbox shows every button a user can meet.
        "providers": {
            "kie": {"base_url": urls.kie, "api_key": KIE_API_KEY, "timeout_s": 10, "offer_upgrades": True},
            # The fal simulator: its models appear in /settings, its webhooks are signed with the key it serves.
            **(
                {
                    "fal": {
                        "queue_url": urls.fal,
                        "api_key": FAL_API_KEY,
                        "jwks_url": f"{urls.fal}/.well-known/jwks.json",
                    }
                }
                if urls.fal
                else {}
            ),
        },
        "poll": {
            "allow_fast": True,
            "interval_s": options.poll_interval_s,
            "first_poll_s": options.first_poll_s,
            "max_attempts": 60,
            "delayed_interval_s": 5,
            "delayed_deadline_s": 600,
            "late_check_delays_s": [10, 60],
            "shutdown_grace_s": 5,
        },
        # public_url makes the simulator call back when a video is ready, so it arrives without waiting a poll.
        "http": {"host": HOST, "port": reelay_port, "public_url": urls.reelay, "console_token": console_token},
        # Packs for sale, so a purchase in Stars can be tried in the web chat (the stand-in charges nothing real).
        "credits": {"enabled": True, "initial_balance": STARTING_CREDITS, "packs": SANDBOX_PACKS},
        # The simulator serves its videos from 127.0.0.1.
        "network": {"allow_private_addresses": True},
        "admin": {"user_ids": [USER_ID]},
        "log": {"level": options.log_level, "format": "console"},
    }
    return _CodeOnlySettings(**values)


class Sandbox:
    """Everything ``reelay sandbox`` runs; ``start`` brings it all up, ``stop`` takes down what started."""

    def __init__(self, options: SandboxOptions | None = None) -> None:
        self.options = options = options or SandboxOptions()
        self.emulator = TelegramEmulator(BOT_TOKEN, bot_username="reelay_sandbox_bot", bot_first_name="Reelay")
        self.kie = KieSimulator(
            KIE_API_KEY,
            seed=options.seed,
            completion_s=options.completion_s,
            failure_rate=options.failure_rate,
            moderation_rate=options.moderation_rate,
        )
        self.kie.submits_per_10s = 20  # as KIE's own pace: the sandbox's bot must keep to it too
        self.fal = FalSimulator(FAL_API_KEY)
        self.fal.default_scenario = FalScenario(queue=2, running=2)  # so a fal job shows its place in the queue
        self.redis: LocalRedis | None = None
        self.reelay: Reelay | None = None
        self.feed: ChatFeed | None = None
        self.urls: SandboxUrls | None = None
        self.channel_id: int | None = None
        self.videos_dir = (options.data_dir / "videos").resolve()
        # New at every start and printed with the addresses, so whoever started the sandbox can look inside.
        self.console_token = secrets.token_urlsafe(32)
        self._stack = AsyncExitStack()

    async def start(self) -> SandboxUrls:
        """Start every part (the web chat last, so the page opens onto a ready bot); SandboxError on failure."""
        try:
            return await self._start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop what was started, newest first: web chat, Reelay, the stand-ins, Redis (idempotent)."""
        stack, self._stack = self._stack, AsyncExitStack()
        await stack.aclose()

    async def _start(self) -> SandboxUrls:
        stack, options = self._stack, self.options
        listener = _bind(options.port)  # first: a taken port is the likeliest failure, so fail before any work
        stack.callback(listener.close)
        try:
            redis = await asyncio.to_thread(start_local_redis, options.data_dir / "redis", options.redis_server)
        except (RuntimeError, OSError) as exc:
            raise SandboxError(f"could not start Redis: {exc}") from exc
        self.redis = redis
        stack.push_async_callback(asyncio.to_thread, redis.stop)
        kie_url = await self._serve_in_thread(create_kie_app(self.kie))
        telegram_url = await self._serve_in_thread(create_telegram_app(self.emulator))
        fal_url = await self._serve_in_thread(create_fal_app(self.fal))
        reelay_port = free_port()
        self.urls = urls = SandboxUrls(
            webchat=f"http://{HOST}:{listener.getsockname()[1]}",
            telegram=telegram_url,
            kie=kie_url,
            reelay=f"http://{HOST}:{reelay_port}",
            redis=redis.url,
            fal=fal_url,
        )
        self.channel_id = self.emulator.add_channel(CHANNEL_TITLE, username=CHANNEL_USERNAME)
        self.emulator.add_user(USER_ID, USER_NAME)

        settings = sandbox_settings(
            options,
            urls,
            videos_dir=self.videos_dir,
            channel_id=self.channel_id,
            reelay_port=reelay_port,
            console_token=self.console_token,
        )
        self.reelay = reelay = Reelay(settings, Role.RUN)
        stack.push_async_callback(reelay.stop)
        await reelay.start()

        await self._start_webchat(listener, telegram_url)
        log.info("sandbox.started", webchat=urls.webchat)
        return urls

    async def _serve_in_thread(self, app: Any) -> str:
        server = ThreadedServer(app, host=HOST)
        try:
            await asyncio.to_thread(server.start)
        except RuntimeError as exc:
            await asyncio.to_thread(server.stop)
            raise SandboxError(str(exc)) from exc
        self._stack.push_async_callback(asyncio.to_thread, server.stop)
        return server.url

    async def _start_webchat(self, listener: socket.socket, telegram_url: str) -> None:
        assert self.channel_id is not None
        setup = ChatSetup(
            self.emulator,
            file_base_url=f"{telegram_url}/file/bot{BOT_TOKEN}",
            user_id=USER_ID,
            first_name=USER_NAME,
            channel_id=self.channel_id,
        )
        self.feed = feed = ChatFeed(self.emulator, setup.chat_ids)
        await asyncio.to_thread(self.videos_dir.mkdir, parents=True, exist_ok=True)
        app = create_webchat_app(setup, feed, videos_dir=self.videos_dir)
        config = uvicorn.Config(
            app, log_config=None, lifespan="off", timeout_graceful_shutdown=WEBCHAT_SHUTDOWN_S, access_log=False
        )
        server = EmbeddedServer(config)
        task = asyncio.create_task(server.serve(sockets=[listener]), name="webchat")

        async def stop_webchat() -> None:
            feed.close()  # ends the open event streams, which would otherwise hold the shutdown up
            server.should_exit = True
            await task

        self._stack.push_async_callback(stop_webchat)
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise SandboxError("the web chat server stopped during start-up")
            await asyncio.sleep(0.01)

    def banner(self) -> str:
        """What to print once started: where to open the chat, and every other address."""
        urls, redis, options = self.urls, self.redis, self.options
        if urls is None or redis is None:
            return "The sandbox is not running."
        redis_line = (
            f"{urls.redis}  (redis-server, data in {options.data_dir / 'redis'})"
            if redis.persistent
            else f"{urls.redis}  (in-memory fakeredis: nothing is persisted)"
        )
        return "\n".join(
            [
                "",
                "Reelay sandbox is running. Open the chat:",
                "",
                f"    {urls.webchat}/",
                "",
                f"  Telegram Bot API emulator  {urls.telegram}/bot<token>/<method>",
                f"  KIE.ai simulator           {urls.kie}/api/v1/…",
                f"  fal.ai simulator           {urls.fal}/<model id>  (JWKS at /.well-known/jwks.json)",
                f"  Operator console           {urls.console}  (token: {self.console_token})",
                f"  Reelay health              {urls.reelay}/healthz  ·  {urls.reelay}/readyz",
                f"  Redis                      {redis_line}",
                f"  Videos                     {options.data_dir / 'videos'}  (served at {urls.videos}/)",
                "",
                "  Steer the simulated provider from a prompt: [fail] [moderation] [after=30] [polls=3] [faults=429]",
                "  and fal's: [queue=3] [running=2] [busy] [down] [lost=2] [fail] [moderation]",
                "  Reelay's log: --log-level info. Press Ctrl-C to stop everything.",
                "",
            ]
        )


FAKEREDIS_WARNING = """\
!!! redis-server is not installed: the sandbox runs an in-memory Redis (fakeredis) instead.
!!! Nothing is persisted, and it is slower than the real thing. Install it with: apt-get install redis-server
"""


async def run_sandbox(options: SandboxOptions, out: TextIO = sys.stdout) -> None:
    """Run the sandbox until SIGINT (Ctrl-C) or SIGTERM, then stop everything it started."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if options.redis_server is None:
        print(FAKEREDIS_WARNING, file=sys.stderr, flush=True)
    sandbox = Sandbox(options)
    try:
        await sandbox.start()
        print(sandbox.banner(), file=out, flush=True)
        await stop.wait()
        print("Stopping the sandbox…", file=out, flush=True)
    finally:
        await sandbox.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _bind(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((HOST, port))
    except OSError as exc:
        listener.close()
        raise SandboxError(f"cannot listen on {HOST}:{port} ({exc.strerror}); pick another with --port") from exc
    listener.listen(128)
    return listener
