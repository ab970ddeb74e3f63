"""The durable outbox of webhooks out: an event is stored before anything is sent, and leaves only once delivered.

Any process may send (``webhooks.sender``); one at a time per event, by a lease:

* :meth:`WebhookOutbox.enqueue` writes the event hash and its entry in the ``due`` zset (score: when it is due, ms)
  in one script, so a crash can never leave a sent-but-unstored or stored-but-unindexed event.
* :meth:`WebhookOutbox.claim` takes a due event: one script moves its ``due`` score to the lease's expiry, counts
  the attempt and records a fresh lease token. A second sender finds it not due; a sender that dies mid-send
  leaves it to become due again when the lease runs out, and the next claim sends it again with the same id
  (receivers deduplicate by ``webhook-id``).
* :meth:`delivered`, :meth:`retry_later`, :meth:`dead_letter` and :meth:`disable_endpoint` finish an attempt only
  while its lease token is the event's: a sender that outlived its lease cannot undo a newer sender's work.

Keys (``storage.keys``; one ``{outbox}`` slot, so each script touches one slot on a cluster)::

    reelay:{outbox}:event:<id>   hash: id, type, endpoint, url, secret_ref, body, created_at, attempts,
                                       state (pending | sending | dead), lease, last_error, ended_at
    reelay:{outbox}:due          zset: pending and sending ids -> due time / lease expiry (ms, Redis clock)
    reelay:{outbox}:dead         zset: dead-lettered ids -> when they died (ms)
    reelay:{outbox}:disabled     hash: endpoint -> when it answered 410 (ms)
    reelay:{outbox}:counts       hash: delivered, dead, skipped

The event's ``url`` may carry a token (Discord, Slack): it stays in Redis and is never logged. ``secret_ref`` names
the signing secret (the sender resolves it when signing); an unsigned event has none.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.redis_support import RedisClient, require_text_responses, text_hash, text_list

log = structlog.get_logger(__name__)

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Stores events and indexes them in one step (never one without the other; all the targets of one job event, or
# none). An id already stored is left alone, so storing one event twice (a retried publish) never resets an event
# that is being sent. KEYS: due, then each event's hash.  ARGV: per event: id, delay (ms), field count, fields and
# values.  Returns how many were new.
_ENQUEUE = (
    _NOW_MS
    + """
local at, added = 1, 0
for k = 2, #KEYS do
  local id, delay, n = ARGV[at], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  if redis.call('EXISTS', KEYS[k]) == 0 then
    local fields = {}
    for i = at + 3, at + 2 + n do fields[#fields + 1] = ARGV[i] end
    redis.call('HSET', KEYS[k], unpack(fields))
    redis.call('ZADD', KEYS[1], now + delay, id)
    added = added + 1
  end
  at = at + 3 + n
end
return added
"""
)

# Closes the race of two senders taking one due event: the due check and the move to the lease's expiry are one
# step, so exactly one wins. The attempt is counted here, before the send, so a sender that dies mid-send still
# spends one. KEYS: event, due.  ARGV: id, lease (ms), token.  Returns the event's fields, or {} when not due.
_CLAIM = (
    _NOW_MS
    + """
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) > now then return {} end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {}
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'state', 'sending', 'lease', ARGV[3])
return redis.call('HGETALL', KEYS[1])
"""
)

# Finishes an attempt if the caller still holds its lease. KEYS: event, due, dead, counts, disabled.
# ARGV: id, token, outcome (delivered | retry | dead | skipped | gone), delay (ms), error, endpoint.
# Returns 1 when applied, 0 when the lease had passed to another sender.
_FINISH = (
    _NOW_MS
    + """
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[2] then return 0 end
local outcome = ARGV[3]
if outcome == 'delivered' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HINCRBY', KEYS[4], 'delivered', 1)
  return 1
end
if outcome == 'retry' then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'lease', '', 'last_error', ARGV[5])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
  return 1
end
if outcome == 'gone' then redis.call('HSET', KEYS[5], ARGV[6], now) end
redis.call('HSET', KEYS[1], 'state', 'dead', 'lease', '', 'last_error', ARGV[5], 'ended_at', now)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('HINCRBY', KEYS[4], outcome == 'skipped' and 'skipped' or 'dead', 1)
return 1
"""
)

# Puts a dead letter back in line, due now, with its attempts reset; re-enables its endpoint (the operator asked
# for it to be sent). KEYS: event, due, dead, disabled.  ARGV: id.  Returns the endpoint, or false if not dead.
_REQUEUE = (
    _NOW_MS
    + """
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then return false end
local endpoint = redis.call('HGET', KEYS[1], 'endpoint')
if not endpoint then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return false
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'pending', 'attempts', 0, 'lease', '')
redis.call('HDEL', KEYS[1], 'ended_at')
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('HDEL', KEYS[4], endpoint)
return endpoint
"""
)


# Forgets dead letters older than a cutoff (the CLI lists them until then). Bounded per call, so one call never
# blocks Redis for long. KEYS: dead.  ARGV: age (ms), most to remove, the event key head (up to the id).
# Returns how many were removed. The event keys are built here from the head: every outbox key shares the
# {outbox} slot, so they live on the node that runs the script even on a cluster.
_PRUNE_DEAD = (
    _NOW_MS
    + """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[3] .. id)
  redis.call('ZREM', KEYS[1], id)
end
return #ids
"""
)


def new_event_id() -> str:
    """A fresh event id: ``msg_`` + 128 random bits (the ``webhook-id`` a receiver deduplicates by)."""
    return "msg_" + secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class Target:
    """Where an event goes: ``endpoint`` names it (a 410 disables that name), ``secret_ref`` names its signing
    secret (None: unsigned, as Discord and Slack want)."""

    endpoint: str
    url: str = field(repr=False)  # may carry a token: never in a repr, so never in a log by accident
    secret_ref: str | None = None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to store: its type, target, body (UTF-8), id and how long until it is due."""

    type: str
    target: Target
    body: bytes
    id: str = field(default_factory=new_event_id)
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One event in the outbox, as stored."""

    id: str
    type: str
    target: Target
    body: bytes
    created_at: float
    attempts: int
    state: str
    last_error: str
    ended_at_ms: int | None = None
    lease: str = ""

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> OutboxEvent:
        """Read an event hash."""
        return cls(
            id=fields["id"],
            type=fields["type"],
            target=Target(fields["endpoint"], fields["url"], fields.get("secret_ref") or None),
            body=fields["body"].encode(),
            created_at=float(fields["created_at"]),
            attempts=int(fields.get("attempts") or 0),
            state=fields.get("state", "pending"),
            last_error=fields.get("last_error", ""),
            ended_at_ms=int(fields["ended_at"]) if fields.get("ended_at") else None,
            lease=fields.get("lease", ""),
        )


class WebhookOutbox:
    """The outbox's storage (see the module docstring); :class:`webhooks.sender.WebhookSender` drives it."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX) -> None:
        require_text_responses(redis)
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._enqueue = redis.register_script(_ENQUEUE)
        self._claim = redis.register_script(_CLAIM)
        self._finish = redis.register_script(_FINISH)
        self._requeue = redis.register_script(_REQUEUE)
        self._prune_dead = redis.register_script(_PRUNE_DEAD)

    async def enqueue(
        self, event_type: str, target: Target, body: bytes, *, event_id: str | None = None, delay_s: float = 0.0
    ) -> str:
        """Store an event for ``target``, due after ``delay_s``; its id. ``body`` must be UTF-8 (JSON is)."""
        [stored] = await self.enqueue_many([NewEvent(event_type, target, body, event_id or new_event_id(), delay_s)])
        return stored

    async def enqueue_many(self, events: Sequence[NewEvent]) -> list[str]:
        """Store several events at once, all or none; their ids. An id already in the outbox is kept as it is."""
        if not events:
            return []
        keys = [self._keys.outbox_due()]
        args: list[str | int] = []
        for event in events:
            fields = {
                "id": event.id,
                "type": event.type,
                "endpoint": event.target.endpoint,
                "url": event.target.url,
                "secret_ref": event.target.secret_ref or "",
                "body": event.body.decode("utf-8"),
                "created_at": f"{time.time():.3f}",
                "attempts": "0",
                "state": "pending",
                "last_error": "",
                "lease": "",
            }
            keys.append(self._keys.outbox_event(event.id))
            args += [event.id, int(event.delay_s * 1000), 2 * len(fields)]
            args += [part for pair in fields.items() for part in pair]
        await self._enqueue(keys=keys, args=args)
        for event in events:
            log.info("webhook.enqueued", event_id=event.id, event_type=event.type, endpoint=event.target.endpoint)
        return [event.id for event in events]

    async def due_ids(self, limit: int = 10) -> list[str]:
        """Ids of events due now or earlier (by this host's clock; :meth:`claim` decides by Redis's)."""
        now_ms = int(time.time() * 1000)
        return text_list(await self._redis.zrangebyscore(self._keys.outbox_due(), "-inf", now_ms, start=0, num=limit))

    async def claim(self, event_id: str, lease_s: float) -> OutboxEvent | None:
        """Take ``event_id`` for one attempt under a lease of ``lease_s``; None when it is not due (another sender
        holds it, it was delivered, or it is not due yet)."""
        token = secrets.token_hex(8)
        reply = await self._claim(
            keys=[self._keys.outbox_event(event_id), self._keys.outbox_due()],
            args=[event_id, int(lease_s * 1000), token],
        )
        if not reply:
            return None
        flat = [str(part) for part in reply]
        return OutboxEvent.from_fields(dict(zip(flat[::2], flat[1::2], strict=True)))

    async def delivered(self, event: OutboxEvent) -> bool:
        """The receiver took it: the event leaves the outbox. False if the lease had passed to another sender."""
        return await self._end(event, "delivered")

    async def retry_later(self, event: OutboxEvent, delay_s: float, error: str) -> bool:
        """Put it back in line, due after ``delay_s``, with the attempt's error."""
        return await self._end(event, "retry", delay_s=delay_s, error=error)

    async def dead_letter(self, event: OutboxEvent, error: str, *, skipped: bool = False) -> bool:
        """Give up on it (attempts spent, or ``skipped``: its endpoint is disabled); kept for ``retry``."""
        return await self._end(event, "skipped" if skipped else "dead", error=error)

    async def disable_endpoint(self, event: OutboxEvent, error: str) -> bool:
        """The endpoint answered 410 Gone: disable it and dead-letter this event."""
        return await self._end(event, "gone", error=error)

    async def _end(self, event: OutboxEvent, outcome: str, *, delay_s: float = 0.0, error: str = "") -> bool:
        keys = self._keys
        done = await self._finish(
            keys=[
                keys.outbox_event(event.id),
                keys.outbox_due(),
                keys.outbox_dead(),
                keys.outbox_counts(),
                keys.outbox_disabled(),
            ],
            args=[event.id, event.lease, outcome, int(delay_s * 1000), error[:500], event.target.endpoint],
        )
        if not done:
            log.warning("webhook.lease_lost", event_id=event.id, outcome=outcome)
        return bool(done)

    async def is_disabled(self, endpoint: str) -> bool:
        """Whether ``endpoint`` answered 410 (its events are dead-lettered unsent)."""
        return bool(await self._redis.hexists(self._keys.outbox_disabled(), endpoint))

    async def disabled(self) -> dict[str, float]:
        """Disabled endpoints -> when (Unix seconds)."""
        found = text_hash(await self._redis.hgetall(self._keys.outbox_disabled()))
        return {endpoint: int(when) / 1000 for endpoint, when in found.items()}

    async def dead(self, limit: int = 100) -> list[OutboxEvent]:
        """Dead letters, the most recent first."""
        ids = text_list(await self._redis.zrevrange(self._keys.outbox_dead(), 0, limit - 1))
        events = []
        for event_id in ids:
            fields = text_hash(await self._redis.hgetall(self._keys.outbox_event(event_id)))
            if fields:
                events.append(OutboxEvent.from_fields(fields))
        return events

    async def get(self, event_id: str) -> OutboxEvent | None:
        """One event as stored, or None once delivered (or never known)."""
        fields = text_hash(await self._redis.hgetall(self._keys.outbox_event(event_id)))
        return OutboxEvent.from_fields(fields) if fields else None

    async def requeue(self, event_id: str) -> str | None:
        """Send a dead letter again, now, with fresh attempts (and its endpoint enabled again); the endpoint, or
        None when ``event_id`` is not a dead letter."""
        keys = self._keys
        endpoint = await self._requeue(
            keys=[keys.outbox_event(event_id), keys.outbox_due(), keys.outbox_dead(), keys.outbox_disabled()],
            args=[event_id],
        )
        if endpoint is None:
            return None
        log.info("webhook.requeued", event_id=event_id, endpoint=str(endpoint))
        return str(endpoint)

    async def prune_dead(self, older_than_s: float, *, batch: int = 1000) -> int:
        """Forget dead letters that died more than ``older_than_s`` ago (at most ``batch`` per call); how many."""
        head = self._keys.outbox_event("x")[: -len("x")]
        removed = await self._prune_dead(keys=[self._keys.outbox_dead()], args=[int(older_than_s * 1000), batch, head])
        return int(removed)

    async def counts(self) -> dict[str, int]:
        """Events delivered, dead-lettered and skipped so far, and how many wait now."""
        found = text_hash(await self._redis.hgetall(self._keys.outbox_counts()))
        waiting = int(await self._redis.zcard(self._keys.outbox_due()))
        return {
            "delivered": int(found.get("delivered", 0)),
            "dead": int(found.get("dead", 0)),
            "skipped": int(found.get("skipped", 0)),
            "waiting": waiting,
        }
