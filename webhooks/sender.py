"""The loop that sends the outbox's events (``storage.webhook_outbox``): any number of processes may run it.

Each turn claims one due event under a lease, signs it (when its target has a secret), POSTs it through the
outbound client with a 10 s total timeout, and records the outcome:

* 2xx: delivered (it leaves the outbox);
* 410 Gone: the endpoint is disabled (recorded in Redis) and the event dead-lettered; later events for that
  endpoint are dead-lettered unsent until ``reelay webhooks retry`` sends one of them again;
* anything else, no answer, or a refused address: another attempt after about 5 s, 30 s, 2 min, 10 min, 1 h, then
  every 6 h (each ±10 %), until ``max_attempts`` are spent; then the event is dead-lettered.

Dead letters stay for ``dead_retention_s`` (30 days) for ``reelay webhooks failed`` to list, then are forgotten.
Logs name the event, its type and its endpoint, never its URL (a Discord or Slack URL carries a token) or secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import structlog

from outbound.errors import AddressRefused, OutboundError
from outbound.posts import UntrustedPosts
from storage.webhook_outbox import OutboxEvent, WebhookOutbox
from webhooks.signing import InvalidSecret, signed_headers

log = structlog.get_logger(__name__)

DEFAULT_DELAYS_S = (5.0, 30.0, 120.0, 600.0, 3600.0, 21600.0)
SEND_TIMEOUT_S = 10.0
# Longer than a send can take (the timeout, plus signing and Redis), so a live sender never loses its lease.
DEFAULT_LEASE_S = 30.0
DEAD_RETENTION_S = 30 * 86400.0

# secret_ref -> the whsec_ secret, or None when it is gone (a key revoked, an endpoint removed from the config).
SecretLookup = Callable[[str], Awaitable[str | None]]


def retry_delay(attempt: int, delays_s: Sequence[float] = DEFAULT_DELAYS_S, jitter: float = 0.1) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based), jittered so retries do not bunch."""
    base = delays_s[min(attempt, len(delays_s)) - 1]
    return base * random.uniform(1 - jitter, 1 + jitter)


def post_timeout(total_s: float = SEND_TIMEOUT_S) -> aiohttp.ClientTimeout:
    """The whole send, however slowly a receiver answers."""
    return aiohttp.ClientTimeout(total=total_s)


class WebhookSender:
    """Sends due events one at a time (see the module docstring)."""

    def __init__(
        self,
        outbox: WebhookOutbox,
        posts: UntrustedPosts,
        secrets: SecretLookup,
        *,
        max_attempts: int = 8,
        delays_s: Sequence[float] = DEFAULT_DELAYS_S,
        jitter: float = 0.1,
        lease_s: float = DEFAULT_LEASE_S,
        idle_s: float = 1.0,
        dead_retention_s: float = DEAD_RETENTION_S,
        prune_every_s: float = 3600.0,
    ) -> None:
        if max_attempts <= 0 or not delays_s or lease_s <= 0 or idle_s <= 0:
            raise ValueError("max_attempts, delays_s, lease_s and idle_s must be positive")
        self._outbox = outbox
        self._posts = posts
        self._secrets = secrets
        self._max_attempts = max_attempts
        self._delays_s = tuple(delays_s)
        self._jitter = jitter
        self._lease_s = lease_s
        self._idle_s = idle_s
        self._dead_retention_s = dead_retention_s
        self._prune_every_s = prune_every_s

    async def run(self, stop: asyncio.Event, *, workers: int = 1) -> None:
        """Send until ``stop`` is set: due events back to back, then a look every ``idle_s``. ``workers`` loops send
        side by side (one slow receiver then holds up only one of them); claims keep them off each other's events."""
        if workers <= 0:
            raise ValueError("workers must be positive")
        await asyncio.gather(self._prune(stop), *(self._loop(stop) for _ in range(workers)))

    async def _prune(self, stop: asyncio.Event) -> None:
        # Dead letters stay listed (reelay webhooks failed) for dead_retention_s, then go; any process may prune.
        while not stop.is_set():
            try:
                await self._outbox.prune_dead(self._dead_retention_s)
            except Exception:
                log.exception("webhook.prune_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._prune_every_s)

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.send_due()
            except Exception:
                # Redis away for a moment must not end the loop; the events wait in Redis meanwhile.
                log.exception("webhook.sender_failed")
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._idle_s)

    async def send_due(self, limit: int = 10) -> int:
        """Claim and send up to ``limit`` due events; how many were claimed here."""
        claimed = 0
        for event_id in await self._outbox.due_ids(limit):
            event = await self._outbox.claim(event_id, self._lease_s)
            if event is None:
                continue  # another sender has it, or it is gone
            claimed += 1
            await self.attempt(event)
        return claimed

    async def attempt(self, event: OutboxEvent) -> None:
        """One attempt of a claimed event, its outcome recorded in the outbox."""
        bound = log.bind(event_id=event.id, event_type=event.type, endpoint=event.target.endpoint)
        if await self._outbox.is_disabled(event.target.endpoint):
            await self._outbox.dead_letter(event, "not sent: the endpoint answered 410 Gone earlier", skipped=True)
            bound.info("webhook.skipped_disabled")
            return
        try:
            error = await self._send(event)
        except Exception as exc:
            # Still an attempt (recorded, retried, in the end dead-lettered): an event must never come back after
            # each lease, forever, because of a failure nobody foresaw.
            bound.exception("webhook.send_crashed")
            error = f"failed: {type(exc).__name__}"
        if error is None:
            await self._outbox.delivered(event)
            bound.info("webhook.delivered", attempt=event.attempts)
        elif error == _GONE:
            await self._outbox.disable_endpoint(event, "HTTP 410 Gone: endpoint disabled")
            bound.warning("webhook.endpoint_disabled", attempt=event.attempts)
        elif event.attempts >= self._max_attempts:
            await self._outbox.dead_letter(event, error)
            bound.warning("webhook.dead_lettered", attempt=event.attempts, error=error)
        else:
            delay = retry_delay(event.attempts, self._delays_s, self._jitter)
            await self._outbox.retry_later(event, delay, error)
            bound.info("webhook.retry", attempt=event.attempts, error=error, in_s=round(delay, 1))

    async def _send(self, event: OutboxEvent) -> str | None:
        """None when delivered, :data:`_GONE` for a 410, else why it failed (safe to show: no URL, no secret)."""
        headers = {"Content-Type": "application/json", "User-Agent": "Reelay-Webhooks/1"}
        if event.target.secret_ref is not None:
            secret = await self._secrets(event.target.secret_ref)
            if secret is None:
                return f"no signing secret for {event.target.secret_ref} (revoked or removed)"
            try:
                headers |= signed_headers(secret, event.id, event.body)
            except InvalidSecret as exc:
                return f"signing secret {event.target.secret_ref} is malformed: {exc}"
        else:
            headers["webhook-id"] = event.id  # unsigned (Discord, Slack), still deduplicable
        try:
            answer = await self._posts.post(event.target.url, event.body, headers)
        except AddressRefused as exc:
            return f"address refused: {exc.host} is {exc.address} ({exc.reason}); see network.allow_private_addresses"
        except TimeoutError:
            return "no answer within the timeout"
        except aiohttp.ClientConnectorError as exc:
            return f"could not connect: {exc.os_error.strerror or type(exc.os_error).__name__}"
        except (aiohttp.ClientError, OutboundError) as exc:
            return f"failed: {type(exc).__name__}"
        except OSError as exc:  # a name that does not resolve (checked here when going through a proxy)
            return f"network error: {type(exc).__name__}"
        if 200 <= answer.status < 300:
            return None
        if answer.status == 410:
            return _GONE
        return f"HTTP {answer.status}"


_GONE = "gone"
