"""Run one Reelay (or the naive baseline bot) in its own process, from a JSON settings file.

The benchmark drives the stand-ins from its own process, so the bot under test has a core's worth of
interpreter to itself (the stand-ins' threads would otherwise share its GIL).

    python -m benchmarks.reelay_process --settings s.json [--role run|bot|poller] [--limiter wired|priority|ptb|none]
    python -m benchmarks.reelay_process --settings s.json --naive --kie-url URL

``--limiter`` chooses the rate limiter the application's bot is built with: ``wired`` is what
``bot.wiring`` builds; ``priority`` is :class:`bot.rate_limit.PriorityRateLimiter` (wired since
880af16), ``ptb`` python-telegram-bot's ``AIORateLimiter`` (wired before: acks and status edits first
come, first served); ``none`` (benchmark-local) leaves the limiter out, to measure the bot's own
capacity. ``--no-rate-limit`` is ``--limiter none``.
``--telegram-http httpx`` puts python-telegram-bot's ``HTTPXRequest`` where ``bot.wiring`` builds
:class:`bot.aiohttp_request.AiohttpRequest` (what was wired before, for comparison); ``aiohttp`` keeps it.
``--naive`` runs the design the original workflow had: the handler submits, then polls the provider
inside the handler, and only then answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import httpx
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from benchmarks.common import quiet_logs
from bot.settings import Settings


async def run_reelay(settings: Settings, role: str, *, stall_watch: bool = False) -> str | None:
    """Reelay itself in ``role`` (run, bot or poller), until SIGTERM; with ``stall_watch``, a report of the
    event-loop stalls over 20 ms and of the garbage collections meanwhile is returned at the end."""
    from benchmarks.stall_watch import StallWatch
    from bot.app import run_until_signalled
    from bot.wiring import Role

    watch = StallWatch(threshold_s=0.02, tick_s=0.002, sample_s=0.002) if stall_watch else None
    if watch is not None:
        watch.start()
    try:
        await run_until_signalled(settings, Role(role))
    finally:
        if watch is not None:
            await watch.stop()
    return watch.report(limit=8) if watch is not None else None


def run_naive(settings: Settings, kie_url: str, kie_key: str, poll_s: float) -> None:
    """The naive baseline: one PTB handler that awaits the provider, then replies."""
    tg = settings.telegram
    application = (
        Application.builder()
        .token(tg.token.get_secret_value())
        .base_url(tg.api_base_url)
        .base_file_url(tg.file_url)
        .build()  # PTB defaults, as a first bot would have: updates handled one at a time
    )
    client = httpx.AsyncClient(base_url=kie_url, headers={"Authorization": f"Bearer {kie_key}"}, timeout=30)

    async def generate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        answer = await client.post(
            "/api/v1/veo/generate", json={"prompt": update.effective_message.text, "model": "veo3_fast"}
        )
        task_id = answer.json()["data"]["taskId"]
        while True:
            await asyncio.sleep(poll_s)
            data = (await client.get("/api/v1/veo/record-info", params={"taskId": task_id})).json()["data"]
            if data["successFlag"] != 0:
                break
        await update.effective_message.reply_text("Video generating… done: " + str(data["successFlag"]))

    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, generate))
    application.run_polling(stop_signals=(signal.SIGTERM, signal.SIGINT), close_loop=True)


LIMITER_NONE = "none"


def use_limiter(choice: str) -> None:
    """Swap the limiter ``bot.wiring`` hands the application builder, for this process only."""
    if choice == "wired":
        return
    from telegram.ext import AIORateLimiter

    from bot.rate_limit import PriorityRateLimiter

    limiters: dict[str, Any] = {
        "priority": lambda: PriorityRateLimiter(max_retries=3),
        "ptb": lambda: AIORateLimiter(max_retries=3),
        LIMITER_NONE: lambda: None,  # given None, the bot has no limiter
    }
    original = ApplicationBuilder.rate_limiter

    def replaced(self: Any, limiter: Any) -> Any:
        return original(self, limiters[choice]())

    setattr(ApplicationBuilder, "rate_limiter", replaced)  # noqa: B010


def use_httpx_for_telegram() -> None:
    """Every bot of this process talks to Telegram through PTB's HTTPXRequest instead of AiohttpRequest."""
    from telegram.request import HTTPXRequest

    import bot.wiring

    def httpx_request(connection_pool_size: int, **_: object) -> HTTPXRequest:  # no proxy in benchmarks
        return HTTPXRequest(connection_pool_size=connection_pool_size)

    setattr(bot.wiring, "AiohttpRequest", httpx_request)  # noqa: B010


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", type=Path, required=True)
    parser.add_argument("--role", choices=("run", "bot", "poller"), default="run")
    parser.add_argument("--limiter", choices=("wired", "priority", "ptb", "none"), default="wired")
    parser.add_argument("--no-rate-limit", action="store_true")
    parser.add_argument("--telegram-http", choices=("aiohttp", "httpx"), default="aiohttp")
    parser.add_argument("--naive", action="store_true")
    parser.add_argument("--kie-url", default="")
    parser.add_argument("--kie-key", default="")
    parser.add_argument("--poll-s", type=float, default=1.0)
    parser.add_argument("--stall-report", type=Path, help="write event-loop stalls over 20 ms here at the end")
    args = parser.parse_args()
    quiet_logs()
    values: dict[str, Any] = json.loads(args.settings.read_text())
    settings = Settings(**values)
    if args.naive:
        run_naive(settings, args.kie_url, args.kie_key, args.poll_s)
        return
    use_limiter(LIMITER_NONE if args.no_rate_limit else args.limiter)
    if args.telegram_http == "httpx":
        use_httpx_for_telegram()
    report = asyncio.run(run_reelay(settings, args.role, stall_watch=args.stall_report is not None))
    if args.stall_report is not None and report is not None:
        args.stall_report.write_text(report + "\n")


if __name__ == "__main__":
    main()
