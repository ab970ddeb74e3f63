"""Fixtures for the storage tests: stores on the real redis-server, and on a local Redis Cluster."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from storage.redis_jobs import RedisJobStore
from storage.redis_sessions import RedisSessionStore
from storage.redis_support import RedisClient


@pytest.fixture(params=["single", "cluster"])
def any_redis(request: pytest.FixtureRequest) -> RedisClient:
    """A flushed client (text responses) on the single redis-server, then on the 3-node cluster."""
    name = "redis_client" if request.param == "single" else "redis_cluster_client"
    client: RedisClient = request.getfixturevalue(name)
    return client


@pytest.fixture
def job_store(any_redis: RedisClient) -> RedisJobStore:
    """A job store on a flushed real Redis (single node, then cluster)."""
    return RedisJobStore(any_redis, history_ttl_s=3600, user_history=5)


@pytest.fixture
def session_store(any_redis: RedisClient) -> RedisSessionStore:
    """A session store on a flushed real Redis (single node, then cluster)."""
    return RedisSessionStore(any_redis)


@pytest.fixture
def single_job_store(redis_client: aioredis.Redis) -> RedisJobStore:
    """A job store on the single redis-server only (tests that restart or inspect that server)."""
    return RedisJobStore(redis_client, history_ttl_s=3600, user_history=5)
