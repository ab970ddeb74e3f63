"""API keys of the job API, kept in Redis as a hash of the key only.

A key is ``rk_`` + 32 random bytes (URL-safe base64), shown once at creation. Redis keeps the SHA-256 of it (a
key has 256 bits of entropy, so a plain hash cannot be searched backwards; no salt or slow hash is needed) and
the key's record: its name, the user and chat it acts for, its webhook signing secret, when it was made and
whether it is revoked. The signing secret is stored as is, because Reelay needs it to sign every event it sends:
**it is a secret**, like the rest of Redis's contents, and is never logged or listed.

Keys (``storage.keys``, one ``{apikeys}`` slot so creation is one script on a cluster)::

    reelay:{apikeys}:key:<sha256>   hash: name, user_id, chat_id, secret, created_at, revoked
    reelay:{apikeys}:names          hash: name -> sha256 (names are unique, and stay taken after a revoke)
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from storage.keys import DEFAULT_PREFIX, RedisKeys
from storage.redis_support import RedisClient, require_text_responses, text_hash

log = structlog.get_logger(__name__)

KEY_PREFIX = "rk_"
KEY_BYTES = 32
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")

# Closes the race of two creations of one name: the name is claimed and the record written in one step.
# KEYS: names, record.  ARGV: name, digest, then the record's fields and values.  Returns 1, or 0 if the name is taken.
_CREATE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
return 1
"""


class ApiKeyError(ValueError):
    """A name that is malformed, taken or unknown."""


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What Redis keeps about one key (never the key itself)."""

    name: str
    user_id: int | None
    chat_id: int | None
    secret: str  # the whsec_ signing secret: a secret
    created_at: float
    revoked: bool

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> ApiKeyRecord:
        """Read a record hash."""
        return cls(
            name=fields["name"],
            user_id=int(fields["user_id"]) if fields.get("user_id") else None,
            chat_id=int(fields["chat_id"]) if fields.get("chat_id") else None,
            secret=fields["secret"],
            created_at=float(fields["created_at"]),
            revoked=fields.get("revoked") == "1",
        )


def digest_of(key: str) -> str:
    """The hex SHA-256 Redis files a key under."""
    return hashlib.sha256(key.encode()).hexdigest()


class RedisApiKeys:
    """Create, look up, list and revoke API keys (see the module docstring)."""

    def __init__(self, redis: RedisClient, *, make_secret: Callable[[], str], prefix: str = DEFAULT_PREFIX) -> None:
        """``make_secret``: a new ``whsec_`` signing secret (``webhooks.signing.new_secret``; storage signs nothing)."""
        require_text_responses(redis)
        self._make_secret = make_secret
        self._redis = redis
        self._keys = RedisKeys(prefix)
        self._create = redis.register_script(_CREATE)

    async def create(self, name: str, *, user_id: int | None = None, chat_id: int | None = None) -> tuple[str, str]:
        """A new key and its signing secret, returned once; :class:`ApiKeyError` if ``name`` is malformed or taken."""
        if not _NAME.fullmatch(name):
            raise ApiKeyError("a key name is 1-64 characters of A-Z, a-z, 0-9, _, . and -")
        key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
        secret = self._make_secret()
        digest = digest_of(key)
        fields = {
            "name": name,
            "user_id": "" if user_id is None else str(user_id),
            "chat_id": "" if chat_id is None else str(chat_id),
            "secret": secret,
            "created_at": f"{time.time():.3f}",
            "revoked": "0",
        }
        args = [name, digest, *(part for pair in fields.items() for part in pair)]
        created = await self._create(keys=[self._keys.api_key_names(), self._keys.api_key(digest)], args=args)
        if not created:
            raise ApiKeyError(f"an API key named {name!r} exists already")
        log.info("api_key.created", name=name, user_id=user_id, chat_id=chat_id)
        return key, secret

    async def lookup(self, key: str) -> ApiKeyRecord | None:
        """The record of a live key; None for an unknown, malformed or revoked one."""
        if not key.startswith(KEY_PREFIX):
            return None
        fields = text_hash(await self._redis.hgetall(self._keys.api_key(digest_of(key))))
        if not fields:
            return None
        record = ApiKeyRecord.from_fields(fields)
        return None if record.revoked else record

    async def secret_of(self, name: str) -> str | None:
        """The signing secret of the live key named ``name``; None when unknown or revoked."""
        digest = await self._redis.hget(self._keys.api_key_names(), name)
        if not digest:
            return None
        fields = text_hash(await self._redis.hgetall(self._keys.api_key(str(digest))))
        if not fields or fields.get("revoked") == "1":
            return None
        return fields["secret"]

    async def list(self) -> list[ApiKeyRecord]:
        """Every key's record (revoked ones too), oldest first."""
        names = text_hash(await self._redis.hgetall(self._keys.api_key_names()))
        records = []
        for digest in names.values():
            fields = text_hash(await self._redis.hgetall(self._keys.api_key(digest)))
            if fields:
                records.append(ApiKeyRecord.from_fields(fields))
        return sorted(records, key=lambda record: (record.created_at, record.name))

    async def revoke(self, name: str) -> None:
        """Revoke the key named ``name`` (its requests get 401 from now on); :class:`ApiKeyError` if unknown."""
        digest = await self._redis.hget(self._keys.api_key_names(), name)
        if not digest:
            raise ApiKeyError(f"no API key is named {name!r}")
        await self._redis.hset(self._keys.api_key(str(digest)), "revoked", "1")
        log.info("api_key.revoked", name=name)
