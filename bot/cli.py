"""The ``reelay`` command: ``run``, ``bot``, ``poller`` (each with ``--config PATH``), ``check-config`` and
``sandbox`` (everything local, no accounts, with a web chat)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.settings import Settings, load_settings
from poller.errors import ConfigError

DEFAULT_CONFIG = Path("config.toml")
EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelay", description="Telegram bot that turns prompts into AI videos.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("run", "run the bot, the polling engine and the HTTP server in one process"),
        ("bot", "run the Telegram side and the HTTP server, without polling (scale out in webhook mode)"),
        ("poller", "run the polling engine and the HTTP server, without Telegram updates (any number)"),
        ("check-config", "validate the configuration and print it with secrets hidden"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument(
            "--config",
            type=Path,
            default=None,
            help=f"TOML file (default: {DEFAULT_CONFIG} if present); REELAY_<SECTION>__<KEY> variables override it",
        )
    _add_sandbox_command(commands)
    return parser


def _add_sandbox_command(commands: Any) -> None:
    sub = commands.add_parser(
        "sandbox",
        help="run Reelay against local stand-ins of Telegram and KIE.ai, with a web chat (no accounts needed)",
    )
    sub.add_argument("--port", type=int, default=8080, help="port of the web chat on 127.0.0.1 (default: 8080)")
    sub.add_argument(
        "--data-dir", type=Path, default=Path(".sandbox"), help="folder for Redis data and videos (default: .sandbox)"
    )
    sub.add_argument(
        "--completion-s",
        type=float,
        nargs=2,
        default=(5.0, 15.0),
        metavar=("LOW", "HIGH"),
        help="a simulated video takes a random time in this range (default: 5 15)",
    )
    sub.add_argument("--failure-rate", type=float, default=0.0, help="share of videos that fail (0-1)")
    sub.add_argument("--moderation-rate", type=float, default=0.0, help="share of prompts refused by moderation (0-1)")
    sub.add_argument("--fakeredis", action="store_true", help="in-memory Redis even when redis-server is installed")
    sub.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="warning",
        help="how much of Reelay's log to show (default: warning; info shows every job's steps)",
    )


def _sandbox(args: argparse.Namespace) -> int:
    import shutil

    from bot.logs import configure_logging
    from sandbox.runner import SandboxError, SandboxOptions, run_sandbox

    low, high = args.completion_s
    if not (0 <= low <= high) or not (0 <= args.failure_rate <= 1) or not (0 <= args.moderation_rate <= 1):
        print("reelay sandbox: --completion-s needs 0 <= LOW <= HIGH and the rates must be within 0-1", file=sys.stderr)
        return EXIT_CONFIG
    options = SandboxOptions(
        port=args.port,
        data_dir=args.data_dir,
        redis_server=None if args.fakeredis else shutil.which("redis-server"),
        completion_s=(low, high),
        failure_rate=args.failure_rate,
        moderation_rate=args.moderation_rate,
        log_level=args.log_level,
    )
    configure_logging(args.log_level, "auto")
    try:
        asyncio.run(run_sandbox(options))
    except SandboxError as exc:
        print(f"reelay sandbox: {exc}", file=sys.stderr)
        return 1
    return 0


def _load(path: Path | None) -> Settings:
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    return load_settings(path)


def _print_config_error(exc: ConfigError, *, every: bool) -> None:
    """One line per problem for ``check-config``; one line in all for a start that fails."""
    if every:
        for key, message in exc.problems:
            print(f"reelay: configuration error: {key}: {message}", file=sys.stderr)
        return
    more = len(exc.problems) - 1
    tail = f" (and {more} more: reelay check-config lists them all)" if more else ""
    print(f"reelay: configuration error: {exc}{tail}", file=sys.stderr)


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret, so the log redactor can remove them wherever they appear."""
    candidates = [
        settings.telegram.token,
        settings.providers.kie.api_key,
        settings.s3.access_key_id,
        settings.s3.secret_access_key,
        settings.telegram.webhook_secret,
        settings.http.api_token,
    ]
    return [s.get_secret_value() for s in candidates if s is not None]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reelay`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "sandbox":
        return _sandbox(args)
    try:
        settings = _load(args.config)
    except ConfigError as exc:
        _print_config_error(exc, every=args.command == "check-config")
        return EXIT_CONFIG
    if args.command == "check-config":
        print(settings.model_dump_json(indent=2))  # SecretStr fields print as '**********'
        return 0
    from bot.app import Role, run_until_signalled  # heavy imports only when running
    from bot.logs import configure_logging

    configure_logging(settings.log.level, settings.log.format, secret_values(settings))
    asyncio.run(run_until_signalled(settings, Role(args.command)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
