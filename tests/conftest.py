"""Shared fixtures: real servers on 127.0.0.1 (redis-server, moto S3, KIE, fal, Telegram and webhook stand-ins)."""

import logging
from collections.abc import Iterator

import pytest

# The standard proxy variables, which Reelay honours (outbound/proxies.py): a developer's or CI's own proxy must
# not carry the tests' loopback calls. Tests that want a proxy set one.
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")

pytest_plugins = [
    "tests.fixtures.redis_server",
    "tests.fixtures.redis_cluster",
    "tests.fixtures.s3_server",
    "tests.fixtures.kie",
    "tests.fixtures.fal",
    "tests.fixtures.telegram",
    "tests.fixtures.scripted_http",
    "tests.fixtures.proxies",
    "tests.fixtures.webhook_receiver",
]


@pytest.fixture(autouse=True)
def _no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs the CLI in-process configures logging onto pytest's captured stderr, which is closed
    after that test; later tests' log lines (the threaded servers' too) would hit a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
