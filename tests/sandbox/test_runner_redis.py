"""The sandbox's Redis: redis-server with a fresh dataset per run, or fakeredis over TCP when it is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import redis

from sandbox.local_redis import FakeRedisServer, start_local_redis

pytestmark = pytest.mark.integration


def test_fakeredis_keeps_a_connection_open_after_an_error_reply() -> None:
    # redis-py runs scripts as EVALSHA, and on NOSCRIPT loads the script on the same connection.
    server = FakeRedisServer().start()
    try:
        with redis.Redis.from_url(server.url, single_connection_client=True, decode_responses=True) as client:
            script = client.register_script("return redis.call('INCR', KEYS[1])")
            client.set("text", "x")
            with pytest.raises(redis.ResponseError):
                client.incr("text")

            assert script(keys=["counter"]) == 1
            assert script(keys=["counter"]) == 2
    finally:
        server.stop()


def test_fakeredis_stop_closes_the_port() -> None:
    server = FakeRedisServer().start()
    with redis.Redis.from_url(server.url) as client:
        assert client.ping()

    server.stop()
    server.stop()  # idempotent

    with redis.Redis.from_url(server.url, socket_connect_timeout=1) as client, pytest.raises(redis.ConnectionError):
        client.ping()


def test_each_run_of_redis_server_starts_from_an_empty_dataset(tmp_path: Path) -> None:
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is not on PATH (scripts/bootstrap installs it)")
    first = start_local_redis(tmp_path, executable)
    with redis.Redis.from_url(first.url) as client:
        client.set("job:old", "from an earlier sandbox")
    first.stop()
    assert any((tmp_path / "appendonlydir").iterdir())  # it was written to disk

    second = start_local_redis(tmp_path, executable)
    try:
        assert second.persistent
        with redis.Redis.from_url(second.url) as client:
            assert client.get("job:old") is None
    finally:
        second.stop()


def test_without_an_executable_fakeredis_is_used(tmp_path: Path) -> None:
    started = start_local_redis(tmp_path, None)
    try:
        assert started.kind == "fakeredis"
        assert not started.persistent
        with redis.Redis.from_url(started.url) as client:
            assert client.ping()
    finally:
        started.stop()
