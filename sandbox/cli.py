"""``reelay sandbox``: the whole bot on local stand-ins, with a web chat. A tool on top of Reelay, found by
``reelay`` through its entry point (``reelay.commands``); the product itself never imports it."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.logs import configure_logging
from sandbox.runner import SandboxError, SandboxOptions, run_sandbox

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reelay sandbox",
        description="Run Reelay against local stand-ins of Telegram and KIE.ai, with a web chat (no accounts needed).",
    )
    parser.add_argument("--port", type=int, default=8080, help="port of the web chat on 127.0.0.1 (default: 8080)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(".sandbox"), help="folder for Redis data and videos (default: .sandbox)"
    )
    parser.add_argument(
        "--completion-s",
        type=float,
        nargs=2,
        default=(5.0, 15.0),
        metavar=("LOW", "HIGH"),
        help="a simulated video takes a random time in this range (default: 5 15)",
    )
    parser.add_argument("--failure-rate", type=float, default=0.0, help="share of videos that fail (0-1)")
    parser.add_argument(
        "--moderation-rate", type=float, default=0.0, help="share of prompts refused by moderation (0-1)"
    )
    parser.add_argument("--fakeredis", action="store_true", help="in-memory Redis even when redis-server is installed")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="warning",
        help="how much of Reelay's log to show (default: warning; info shows every job's steps)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``reelay sandbox`` (and ``python -m sandbox.cli``)."""
    args = _parser().parse_args(argv)
    low, high = args.completion_s
    if not (0 <= low <= high) or not (0 <= args.failure_rate <= 1) or not (0 <= args.moderation_rate <= 1):
        print("reelay sandbox: --completion-s needs 0 <= LOW <= HIGH and the rates must be within 0-1", file=sys.stderr)
        return EXIT_USAGE
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


if __name__ == "__main__":
    sys.exit(main())
