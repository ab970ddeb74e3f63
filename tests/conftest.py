"""Shared fixtures: real servers on 127.0.0.1 (redis-server, moto S3, KIE and Telegram stand-ins)."""

pytest_plugins = [
    "tests.fixtures.redis_server",
    "tests.fixtures.redis_cluster",
    "tests.fixtures.s3_server",
    "tests.fixtures.kie",
    "tests.fixtures.telegram",
]
