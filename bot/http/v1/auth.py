"""Who is calling: ``Authorization: Bearer <key>`` looked up by its hash, then the key's request budget."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from bot.http.v1.errors import ApiError
from storage.api_keys import ApiKeyRecord, RedisApiKeys, digest_of
from storage.api_rate_limit import ApiRateLimiter

MAX_KEY_CHARS = 200  # a key is 46 characters; anything much longer is not one and is not hashed


@dataclass(frozen=True, slots=True)
class Caller:
    """A live API key's record (never the key itself)."""

    record: ApiKeyRecord

    @property
    def name(self) -> str:
        """The key's name: its jobs are filed under it."""
        return self.record.name


_UNAUTHORIZED = ApiError(401, "unauthorized", "a valid API key is needed: Authorization: Bearer <key>")


async def authenticate(request: Request, keys: RedisApiKeys, limiter: ApiRateLimiter) -> Caller:
    """The caller, or 401 (missing, wrong or revoked key) or 429 with Retry-After (over its budget)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    key = value.strip()
    if scheme.lower() != "bearer" or not key or len(key) > MAX_KEY_CHARS:
        raise _with_challenge(_UNAUTHORIZED)
    record = await keys.lookup(key)
    if record is None:
        raise _with_challenge(_UNAUTHORIZED)
    decision = await limiter.take(digest_of(key))
    if not decision.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests for this key: try again in {decision.retry_after_s} s",
            headers={"Retry-After": str(decision.retry_after_s)},
        )
    return Caller(record)


def _with_challenge(error: ApiError) -> ApiError:
    return ApiError(error.status, error.code, error.message, headers={"WWW-Authenticate": "Bearer"})
