"""The operator's Redis-backed subcommands of ``reelay``: ``api-keys create|list|revoke`` and
``webhooks failed|retry|endpoints``.

Secrets are printed once, by ``api-keys create``, and never again: listings show names, ids and dates, and
webhook URLs reduced to their scheme and host (the paths and queries of incoming webhooks carry tokens, a URL's
user part a password).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.settings import Settings
from storage.redis_support import RedisClient

if TYPE_CHECKING:
    from storage.api_keys import RedisApiKeys
    from storage.webhook_outbox import WebhookOutbox

    # What add_subparsers() returns, as typeshed names it (for annotations only: never touched at run time).
    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_FAILED = 1
EXIT_DEPENDENCY = 3
COMMANDS = {
    "api-keys": "create, list and revoke the job API's keys (each with its webhook signing secret)",
    "webhooks": "the webhook outbox: dead-lettered events (failed), sending one again (retry), endpoints",
}

Handler = Callable[[RedisClient, Settings, argparse.Namespace], Awaitable[int]]


def add_commands(commands: _Commands, config_help: str) -> None:
    """Register ``api-keys`` and ``webhooks`` with their own subcommands, each taking ``--config``."""

    def leaf(group: _Commands, name: str, help_text: str) -> argparse.ArgumentParser:
        sub = group.add_parser(name, help=help_text)
        sub.add_argument("--config", type=Path, default=None, help=config_help)
        return sub

    keys = commands.add_parser("api-keys", help=COMMANDS["api-keys"]).add_subparsers(dest="action", required=True)
    create = leaf(keys, "create", "make a key; prints it and its signing secret once")
    create.add_argument("--name", required=True, help="a unique name (A-Z a-z 0-9 _ . -, at most 64)")
    create.add_argument("--user-id", type=int, default=None, help="the Telegram user the key's jobs are charged to")
    create.add_argument("--chat-id", type=int, default=None, help="a Telegram chat that also gets the videos")
    leaf(keys, "list", "names, user and chat ids, created, revoked (never keys or secrets)")
    revoke = leaf(keys, "revoke", "revoke a key by name: its requests get 401 from now on")
    revoke.add_argument("name")

    hooks = commands.add_parser("webhooks", help=COMMANDS["webhooks"]).add_subparsers(dest="action", required=True)
    leaf(hooks, "failed", "dead-lettered events: id, type, target, attempts, last error")
    retry = leaf(hooks, "retry", "send a dead-lettered event again (the same webhook-id)")
    retry.add_argument("id")
    leaf(hooks, "endpoints", "the configured endpoints, and those disabled by a 410 answer")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one ``api-keys`` or ``webhooks`` subcommand; the exit code."""
    handlers: dict[tuple[str, str], Handler] = {
        ("api-keys", "create"): _create_key,
        ("api-keys", "list"): _list_keys,
        ("api-keys", "revoke"): _revoke_key,
        ("webhooks", "failed"): _failed,
        ("webhooks", "retry"): _retry,
        ("webhooks", "endpoints"): _endpoints,
    }
    handler = handlers[(args.command, args.action)]
    return asyncio.run(_with_redis(settings, lambda redis: handler(redis, settings, args)))


async def _with_redis(settings: Settings, use: Callable[[RedisClient], Awaitable[int]]) -> int:
    from bot.startup import StartupError, check_redis
    from bot.wiring import make_redis

    redis = make_redis(settings)
    try:
        try:
            await check_redis(redis, settings.redis.url)
        except StartupError as exc:
            print(f"reelay: {exc}", file=sys.stderr)
            return EXIT_DEPENDENCY
        return await use(redis)
    finally:
        await redis.aclose()


def _key_store(redis: RedisClient, settings: Settings) -> RedisApiKeys:
    from storage.api_keys import RedisApiKeys
    from webhooks.signing import new_secret

    return RedisApiKeys(redis, make_secret=new_secret, prefix=settings.redis.prefix)


async def _create_key(redis: RedisClient, settings: Settings, args: argparse.Namespace) -> int:
    from storage.api_keys import ApiKeyError

    try:
        key, secret = await _key_store(redis, settings).create(args.name, user_id=args.user_id, chat_id=args.chat_id)
    except ApiKeyError as exc:
        print(f"reelay: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"API key {args.name!r} created. Both values are shown only now: store them.")
    print(f"key:    {key}")
    print(f"secret: {secret}")
    print("Requests carry 'Authorization: Bearer <key>'; webhooks for its jobs are signed with the secret.")
    return 0


async def _list_keys(redis: RedisClient, settings: Settings, args: argparse.Namespace) -> int:
    records = await _key_store(redis, settings).list()
    if not records:
        print("No API keys (reelay api-keys create --name NAME makes one).")
        return 0
    print(f"{'NAME':<24} {'USER':>12} {'CHAT':>16} {'CREATED (UTC)':<20} STATE")
    for record in records:
        user = "-" if record.user_id is None else str(record.user_id)
        chat = "-" if record.chat_id is None else str(record.chat_id)
        state = "revoked" if record.revoked else "active"
        print(f"{record.name:<24} {user:>12} {chat:>16} {_when(record.created_at):<20} {state}")
    return 0


async def _revoke_key(redis: RedisClient, settings: Settings, args: argparse.Namespace) -> int:
    from storage.api_keys import ApiKeyError

    try:
        await _key_store(redis, settings).revoke(args.name)
    except ApiKeyError as exc:
        print(f"reelay: {exc} (reelay api-keys list shows them)", file=sys.stderr)
        return EXIT_FAILED
    print(f"API key {args.name!r} revoked.")
    return 0


def _when(unix_time: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(unix_time))


def _outbox(redis: RedisClient, settings: Settings) -> WebhookOutbox:
    from storage.webhook_outbox import WebhookOutbox

    return WebhookOutbox(redis, prefix=settings.redis.prefix)


async def _failed(redis: RedisClient, settings: Settings, args: argparse.Namespace) -> int:
    dead = await _outbox(redis, settings).dead(limit=1000)
    if not dead:
        print("No dead-lettered webhook events.")
        return 0
    print(f"{'ID':<28} {'TYPE':<24} {'TARGET':<50} {'ATTEMPTS':>8} {'DIED (UTC)':<20} LAST ERROR")
    for event in dead:
        target = f"{event.target.endpoint} {shown_url(event.target.url)}"
        died = _when(event.ended_at_ms / 1000) if event.ended_at_ms else "-"
        print(f"{event.id:<28} {event.type:<24} {target:<50} {event.attempts:>8} {died:<20} {event.last_error}")
    print(f"{len(dead)} event(s); reelay webhooks retry ID sends one again.")
    return 0


async def _retry(redis: RedisClient, settings: Settings, args: argparse.Namespace) -> int:
    endpoint = await _outbox(redis, settings).requeue(args.id)
    if endpoint is None:
        print(
            f"reelay: no dead-lettered webhook event has the id {args.id!r} (reelay webhooks failed lists them)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"Event {args.id} is due again (to {endpoint}); a running Reelay sends it within seconds.")
    return 0


async def _endpoints(redis: RedisClient, settings: Settings, args: argparse.Namespace) -> int:
    from bot.webhook_wiring import configured_endpoints
    from webhooks.publisher import DISCORD, SLACK

    outbox = _outbox(redis, settings)
    disabled = await outbox.disabled()
    rows = [
        (endpoint.name, endpoint.url, ",".join(sorted(endpoint.events))) for endpoint in configured_endpoints(settings)
    ]
    for name, secret_url in (
        (DISCORD, settings.notify.discord_webhook_url),
        (SLACK, settings.notify.slack_webhook_url),
    ):
        if secret_url is not None:
            rows.append((name, secret_url.get_secret_value(), "video ready, video published"))
    print(f"{'NAME':<26} {'URL':<40} {'EVENTS':<50} STATE")
    for name, url, events in rows:
        print(f"{name:<26} {shown_url(url):<40} {events:<50} {_state(disabled.pop(name, None))}")
    for name, when in sorted(disabled.items()):  # callbacks, or endpoints no longer configured
        print(f"{name:<26} {'-':<40} {'-':<50} {_state(when)}")
    counts = await outbox.counts()
    print(
        f"outbox: {counts['waiting']} waiting, {counts['delivered']} delivered, {counts['dead']} dead-lettered, "
        f"{counts['skipped']} not sent to disabled endpoints"
    )
    return 0


def _state(disabled_at: float | None) -> str:
    return "active" if disabled_at is None else f"disabled by a 410 at {_when(disabled_at)} UTC"


def shown_url(url: str) -> str:
    """A target URL for a listing: its scheme, host and port only (paths and queries of incoming webhooks carry
    tokens; a password is never shown)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:
        host = f"[{host}]"
    tail = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{tail}"
