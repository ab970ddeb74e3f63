"""Fixtures for the storage tests: stores on the real redis-server."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore


@pytest.fixture
def job_store(redis_client: aioredis.Redis) -> RedisJobStore:
    """A job store on the flushed real redis-server."""
    return RedisJobStore(redis_client, history_ttl_s=3600, user_history=5)


@pytest.fixture
def session_store(redis_client: aioredis.Redis) -> RedisSessionStore:
    """A session store on the flushed real redis-server."""
    return RedisSessionStore(redis_client)
