"""``reelay doctor`` against real stand-ins: a real redis-server (with and without AOF), moto's S3, the KIE simulator
and the Telegram Bot API emulator. One line per check, ✓ or ✗ with what to do; exit 0 only when all pass."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
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


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {value!r}" if not isinstance(value, bool) else f"{key} = {str(value).lower()}")
    path.write_text("\n".join(lines).replace("'", '"') + "\n")
    return path


@pytest.fixture
def config(
    tmp_path: Path,
    make_redis_server: Callable[..., RedisServer],
    s3_server: S3Server,
    s3_bucket: str,
    kie: KieStandIn,
    telegram: TelegramStandIn,
) -> Callable[..., Path]:
    """A config file for everything healthy (Redis with AOF, the bot administering the channel), with changes."""
    redis = make_redis_server(aof=True)
    port = free_port()

    def make(**changes: dict[str, Any]) -> Path:
        sections: dict[str, dict[str, Any]] = {
            "telegram": {
                "token": telegram.token,
                "api_base_url": telegram.base_url,
                "publish_channel_id": telegram.channel_id,
            },
            "redis": {"url": redis.url},
            "s3": {
                "endpoint_url": s3_server.endpoint_url,
                "bucket": s3_bucket,
                "region": s3_server.region,
                "access_key_id": s3_server.access_key_id,
                "secret_access_key": s3_server.secret_access_key,
            },
            "providers.kie": {"base_url": kie.url, "api_key": kie.api_key, "timeout_s": 5},
            "http": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        }
        for section, values in changes.items():
            sections[section.replace("__", ".")] = {**sections.get(section.replace("__", "."), {}), **values}
        return write_config(tmp_path / "config.toml", sections)

    return make


def run_doctor(path: Path) -> subprocess.CompletedProcess[str]:
    """``reelay doctor`` as an operator runs it: its own process (it sets up logging for the whole process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELAY_")}
    command = [sys.executable, "-m", "bot.cli", "doctor", "--config", str(path)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def doctor(path: Path) -> tuple[int, dict[str, str]]:
    """Run ``reelay doctor``; its exit code and its lines by check name (``"✓ detail"``)."""
    result = run_doctor(path)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert all(line[0] in "✓✗" for line in lines), result.stdout + result.stderr
    return result.returncode, {line[2:].split(":", 1)[0]: f"{line[0]}{line[2:].split(':', 1)[1]}" for line in lines}


def test_everything_healthy_passes_every_check(config: Callable[..., Path]) -> None:
    code, found = doctor(config())

    assert code == 0, found
    assert set(found) == {
        "configuration",
        "redis",
        "redis persistence",
        "telegram",
        "telegram webhook",
        "publish channel",
        "s3",
        "kie",
        "public url",
    }
    assert all(line.startswith("✓") for line in found.values()), found
    assert "balance 1000 credits" in found["kie"]
    assert "reaches this host" in found["public url"]


def test_each_broken_dependency_is_a_cross_with_what_to_do(
    config: Callable[..., Path],
    make_redis_server: Callable[..., RedisServer],
    telegram: TelegramStandIn,
    kie: KieStandIn,
) -> None:
    plain_redis = make_redis_server(aof=False)
    lonely_channel = telegram.emulator.add_channel("Elsewhere", bots_are_admins=False)
    path = config(
        redis={"url": plain_redis.url},
        telegram={"publish_channel_id": lonely_channel},
        s3={"bucket": "no-such-bucket"},
        providers__kie={"api_key": "wrong-key"},
        http={"public_url": f"http://127.0.0.1:{free_port()}"},
    )

    code, found = doctor(path)

    assert code == 3
    assert found["redis"].startswith("✓")
    assert found["redis persistence"].startswith("✗")
    assert "appendonly yes" in found["redis persistence"]
    assert found["publish channel"].startswith("✗")
    assert "administrator" in found["publish channel"]
    assert found["s3"].startswith("✗")
    assert "NoSuchBucket" in found["s3"]
    assert found["kie"].startswith("✗")
    assert "providers.kie.api_key" in found["kie"]
    assert found["public url"].startswith("✗")
    assert "wrong-key" not in str(found)


def test_a_rejected_token_and_an_unreachable_redis_are_named_without_the_token(config: Callable[..., Path]) -> None:
    path = config(telegram={"token": "999999:WRONG-TOKEN-VALUE"}, redis={"url": f"redis://127.0.0.1:{free_port()}/0"})

    code, found = doctor(path)

    assert code == 3
    assert found["redis"].startswith("✗")
    assert "redis.url" in found["redis"]
    assert found["telegram"] == "✗ Telegram rejected the bot token (telegram.token): copy the token from @BotFather"
    assert "WRONG-TOKEN-VALUE" not in str(found)


def test_an_invalid_configuration_is_a_cross_per_problem_and_exit_2(config: Callable[..., Path]) -> None:
    path = config(redis={"url": "127.0.0.1:6379"}, providers__kie={"api_key": "REPLACE-ME"})

    result = run_doctor(path)

    lines = result.stdout.splitlines()
    assert result.returncode == 2
    assert sorted(lines) == [
        "✗ configuration: providers.kie.api_key: still holds the example's placeholder; put the real value here",
        "✗ configuration: redis.url: must start with redis:// or rediss:// or unix://",
    ]
