"""The ``reelay`` command: ``run``, ``bot``, ``poller`` (each with ``--config PATH``) and ``check-config``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

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
    return parser


def _load(path: Path | None) -> Settings:
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    return load_settings(path)


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
    try:
        settings = _load(args.config)
    except ConfigError as exc:
        print(f"reelay: configuration error: {exc}", file=sys.stderr)
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
