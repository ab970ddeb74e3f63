"""The ``reelay`` command: ``run``, ``bot``, ``poller``, ``check-config``, ``doctor``, ``stats``, and the operator's
``api-keys`` and ``webhooks`` subcommands (:mod:`bot.admin_cli`), each with ``--config PATH``;
``--version``, and tools installed beside the product (``reelay sandbox``), found by their entry points.

Exit codes: 0 done; 1 an unexpected failure, or an operator command that cannot do what was asked (an unknown
name or id); 2 the configuration (or the command line) is wrong; 3 a dependency
does not answer or refuses (Redis, Telegram, the video store, the HTTP port). A failure to start is one line on
stderr naming the setting to check; a traceback only with ``log.level = "debug"``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from bot import admin_cli
from bot.redaction import masked, url_without_password
from bot.settings import Settings, load_settings
from poller.errors import ConfigError
from poller.version import VERSION

if TYPE_CHECKING:
    from storage.analytics import Summary

DEFAULT_CONFIG = Path("config.toml")
EXIT_UNEXPECTED = 1
EXIT_CONFIG = 2
EXIT_DEPENDENCY = 3
TOOLS_GROUP = "reelay.commands"  # entry points of tools built on Reelay (the sandbox)

_COMMANDS = {
    "run": "run the bot, the polling engine and the HTTP server in one process",
    "bot": "run the Telegram side and the HTTP server, without polling (scale out in webhook mode)",
    "poller": "run the polling engine and the HTTP server, without Telegram updates (any number)",
    "check-config": "validate the configuration and print it with secrets hidden",
    "doctor": "check every dependency (Redis, Telegram, S3, KIE, the public URL) before the first user does",
    "stats": "print per model: jobs, success rate, generation time, attempts, failures and cost (from Redis)",
}


_CONFIG_HELP = f"TOML file (default: {DEFAULT_CONFIG} if present); REELAY_<SECTION>__<KEY> variables override it"


def _parser(tools: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelay", description="Telegram bot that turns prompts into AI videos.")
    parser.add_argument("--version", action="version", version=f"reelay {VERSION}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in _COMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    admin_cli.add_commands(commands, _CONFIG_HELP)
    stats = commands.choices["stats"]
    stats.add_argument("--since", default="24h", help="how far back: 24h, 7d, 30d (any <n>h or <n>d; default 24h)")
    stats.add_argument("--json", action="store_true", help="the same numbers as JSON")
    for name in tools:
        commands.add_parser(name, help=f"a tool installed beside Reelay (reelay {name} --help)", add_help=False)
    return parser


def _tools() -> dict[str, EntryPoint]:
    ours = _COMMANDS.keys() | admin_cli.COMMANDS.keys()
    return {tool.name: tool for tool in entry_points(group=TOOLS_GROUP) if tool.name not in ours}


def _run_tool(tool: EntryPoint, argv: list[str]) -> int:
    """Hand the rest of the command line to a tool; the product imports it only here, only when asked."""
    try:
        tool_main = tool.load()
    except ImportError:
        print(
            f"reelay: '{tool.name}' is not installed here: it is a development tool that comes with a source "
            "checkout (scripts/run)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    code: int = tool_main(argv)
    return code


def _load(path: Path | None) -> Settings:
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    return load_settings(path)


def _check_outbound(settings: Settings) -> None:
    from bot.wiring import check_outbound  # the proxy variables of the environment count too

    check_outbound(settings)


def _print_config_error(exc: ConfigError, *, every: bool) -> None:
    """One line per problem for ``check-config``; one line in all for a start that fails."""
    if every:
        for key, message in exc.problems:
            print(f"reelay: configuration error: {key}: {message}", file=sys.stderr)
        return
    more = len(exc.problems) - 1
    tail = f" (and {more} more: reelay check-config lists them all)" if more else ""
    print(f"reelay: configuration error: {exc}{tail}", file=sys.stderr)


def _check_config(settings: Settings) -> int:
    # SecretStr fields dump as '**********'; URLs keep their host but lose any password.
    print(json.dumps(masked(settings.model_dump(mode="json")), indent=2))
    return 0


def _serve(settings: Settings, role_name: str) -> int:
    from bot.app import Role, run_until_signalled  # heavy imports only when running
    from bot.logs import REDACTOR, configure_logging
    from bot.redaction import secret_values
    from bot.startup import StartupError

    configure_logging(settings.log.level, settings.log.format, secret_values(settings))
    try:
        asyncio.run(run_until_signalled(settings, Role(role_name)))
    except StartupError as exc:
        print(f"reelay: {REDACTOR.scrub(str(exc))}", file=sys.stderr)
        return EXIT_DEPENDENCY
    except Exception as exc:
        if settings.log.level == "debug":
            raise
        detail = url_without_password(REDACTOR.scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else ""))
        print(
            f"reelay: stopped by an unexpected {type(exc).__name__}: {detail} (log.level = debug shows where)",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED
    return 0


def _doctor(settings: Settings) -> int:
    from bot.doctor import run_doctor
    from bot.logs import configure_logging
    from bot.redaction import secret_values

    configure_logging("error", "console", secret_values(settings))  # doctor speaks through its own lines
    passed = asyncio.run(run_doctor(settings, sys.stdout))
    return 0 if passed else EXIT_DEPENDENCY


def _stats(settings: Settings, since: str, as_json: bool) -> int:
    from bot.stats_report import format_summary, parse_since

    try:
        seconds = parse_since(since)
    except ValueError as exc:
        print(f"reelay: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    from bot.startup import StartupError

    try:
        summary = asyncio.run(_read_summary(settings, seconds))
    except StartupError as exc:
        print(f"reelay: {exc}", file=sys.stderr)
        return EXIT_DEPENDENCY
    print(json.dumps(summary.as_json(), indent=2) if as_json else format_summary(summary))
    return 0


async def _read_summary(settings: Settings, seconds: int) -> Summary:
    import time

    from bot.startup import check_redis
    from bot.wiring import make_redis
    from storage.analytics import RedisAnalytics

    redis = make_redis(settings)
    try:
        await check_redis(redis, settings.redis.url)
        analytics = RedisAnalytics(
            redis, prefix=settings.redis.prefix, retention_days=settings.analytics.retention_days
        )
        return await analytics.summary(time.time() - seconds)
    finally:
        await redis.aclose()


def _admin(settings: Settings, args: argparse.Namespace) -> int:
    from bot.logs import configure_logging
    from bot.redaction import secret_values

    configure_logging("error", "console", secret_values(settings))  # the command speaks through its own lines
    return admin_cli.run(settings, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reelay`` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    tools = _tools()
    if args_list and args_list[0] in tools:
        return _run_tool(tools[args_list[0]], args_list[1:])
    args = _parser(sorted(tools)).parse_args(args_list)
    try:
        settings = _load(args.config)
        _check_outbound(settings)
    except ConfigError as exc:
        if args.command == "doctor":
            for key, message in exc.problems:
                print(f"✗ configuration: {key}: {message}")
        else:
            _print_config_error(exc, every=args.command == "check-config")
        return EXIT_CONFIG
    if args.command == "check-config":
        return _check_config(settings)
    if args.command == "doctor":
        return _doctor(settings)
    if args.command == "stats":
        return _stats(settings, args.since, args.json)
    if args.command in admin_cli.COMMANDS:
        return _admin(settings, args)
    return _serve(settings, args.command)


if __name__ == "__main__":
    sys.exit(main())
