"""Failures to start, as an operator meets them: a real ``reelay run`` process against real stand-ins, each failure one
line on stderr naming the setting to check, exit 2 for the configuration and 3 for a dependency, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.serve import free_port
from tests.fixtures.kie import KieStandIn
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.s3_server import S3Server
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def toml(sections: dict[str, dict[str, Any]]) -> str:
    out: list[str] = []
    for section, values in sections.items():
        out.append(f"[{section}]")
        for key, value in values.items():
            rendered = str(value).lower() if isinstance(value, bool) else repr(value).replace("'", '"')
            out.append(f"{key} = {rendered}")
    return "\n".join(out) + "\n"


def run_reelay(
    config: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REELAY_")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def config(
    tmp_path: Path, redis_url: str, s3_server: S3Server, s3_bucket: str, kie: KieStandIn, telegram: TelegramStandIn
) -> Callable[..., Path]:
    """A config that starts, with per-section changes (``redis={"url": …}``)."""

    def make(**changes: dict[str, Any]) -> Path:
        sections: dict[str, dict[str, Any]] = {
            "telegram": {"token": telegram.token, "api_base_url": telegram.base_url},
            "redis": {"url": redis_url},
            "s3": {
                "endpoint_url": s3_server.endpoint_url,
                "bucket": s3_bucket,
                "access_key_id": s3_server.access_key_id,
                "secret_access_key": s3_server.secret_access_key,
            },
            "providers.kie": {"base_url": kie.url, "api_key": kie.api_key},
            "http": {"port": free_port()},
            "log": {"format": "json"},
        }
        for section, values in changes.items():
            key = section.replace("__", ".")
            sections[key] = {**sections.get(key, {}), **values}
        path = tmp_path / "config.toml"
        path.write_text(toml(sections))
        return path

    return make


def failure_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line Reelay printed about the failure (log lines are JSON)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("reelay:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture
def port_in_use() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_an_unreachable_redis_exits_3_naming_redis_url(config: Callable[..., Path]) -> None:
    result = run_reelay(config(redis={"url": f"redis://127.0.0.1:{free_port()}/0"}))

    assert result.returncode == 3
    line = failure_line(result)
    assert "does not answer" in line
    assert line.endswith("(redis.url)")


def test_a_wrong_redis_password_exits_3_without_the_password(
    config: Callable[..., Path], make_redis_server: Callable[..., RedisServer]
) -> None:
    guarded = make_redis_server(password="the-right-password")
    wrong = guarded.url.replace("the-right-password", "a-wrong-password-123")

    result = run_reelay(config(redis={"url": wrong}))

    assert result.returncode == 3
    line = failure_line(result)
    assert "refused" in line
    assert line.endswith("(redis.url)")
    assert "a-wrong-password-123" not in result.stderr


def test_a_token_telegram_rejects_exits_3_without_the_token(config: Callable[..., Path]) -> None:
    token = "123456789:AAFakeTokenTelegramWillNotKnow"

    result = run_reelay(config(telegram={"token": token}))

    assert result.returncode == 3
    assert failure_line(result) == "reelay: Telegram rejected the bot token (telegram.token)"
    assert "AAFakeTokenTelegramWillNotKnow" not in result.stderr + result.stdout


def test_an_unreachable_telegram_exits_3_naming_the_api_url(config: Callable[..., Path]) -> None:
    result = run_reelay(config(telegram={"api_base_url": f"http://127.0.0.1:{free_port()}/bot"}))

    assert result.returncode == 3
    line = failure_line(result)
    assert "Telegram does not answer" in line
    assert line.endswith("(telegram.api_base_url)")


def test_a_missing_bucket_exits_3_naming_s3_bucket(config: Callable[..., Path]) -> None:
    result = run_reelay(config(s3={"bucket": "no-such-bucket-here"}))

    assert result.returncode == 3
    line = failure_line(result)
    assert "not writable" in line
    assert "NoSuchBucket" in line
    assert line.endswith("(s3.bucket)")


def test_a_port_in_use_exits_3_naming_http_port(config: Callable[..., Path], port_in_use: int) -> None:
    result = run_reelay(config(http={"port": port_in_use}))

    assert result.returncode == 3
    assert failure_line(result) == f"reelay: HTTP port {port_in_use} on 127.0.0.1 is in use (http.port)"


@pytest.mark.parametrize(
    ("changes", "env", "key"),
    [
        ({"redis": {"url": "127.0.0.1:6379"}}, {}, "redis.url"),
        ({}, {"REELAY_ADMIN__USER_IDS": "1,2"}, "admin.user_ids"),
    ],
)
def test_unusable_configuration_exits_2_naming_the_key(
    config: Callable[..., Path], changes: dict[str, dict[str, Any]], env: dict[str, str], key: str
) -> None:
    result = run_reelay(config(**changes), env)

    assert result.returncode == 2
    assert failure_line(result).startswith(f"reelay: configuration error: {key}: ")
