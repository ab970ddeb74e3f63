"""``reelay api-keys`` and ``reelay webhooks`` through the CLI's main, against the real local Redis."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.cli import main
from storage.api_keys import RedisApiKeys
from tests.bot.test_settings import MINIMAL
from webhooks.signing import new_secret, secret_key

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("REELAY_"):
            monkeypatch.delenv(name)


@pytest.fixture
def config(tmp_path: Path, redis_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL + f'[redis]\nurl = "{redis_url}"\nprefix = "cli"\n')
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def arun(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """:func:`run` from a test that has its own event loop (main starts one)."""
    return await asyncio.to_thread(run, capsys, *argv)


async def test_api_keys_create_prints_key_and_secret_once_and_list_never_shows_them(
    config: Path, capsys: pytest.CaptureFixture[str], redis_client: aioredis.Redis
) -> None:
    code, out, _ = await arun(
        capsys,
        "api-keys",
        "create",
        "--name",
        "zapier",
        "--user-id",
        "42",
        "--chat-id",
        "-100",
        "--config",
        str(config),
    )
    assert code == 0
    key = re.search(r"key:\s+(rk_\S+)", out)
    secret = re.search(r"secret:\s+(whsec_\S+)", out)
    assert key is not None
    assert secret is not None
    assert len(secret_key(secret.group(1))) == 32
    record = await RedisApiKeys(redis_client, make_secret=new_secret, prefix="cli").lookup(key.group(1))
    assert record is not None
    assert (record.name, record.user_id, record.chat_id, record.secret) == ("zapier", 42, -100, secret.group(1))

    code, out, err = await arun(capsys, "api-keys", "list", "--config", str(config))
    assert code == 0
    assert "zapier" in out
    assert "42" in out
    assert "-100" in out
    assert "active" in out
    assert key.group(1) not in out + err
    assert secret.group(1) not in out + err


def test_create_with_a_taken_name_fails_with_exit_1(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "api-keys", "create", "--name", "twice", "--config", str(config))[0] == 0
    code, out, err = run(capsys, "api-keys", "create", "--name", "twice", "--config", str(config))
    assert code == 1
    assert "exists already" in err
    assert "rk_" not in out


def test_revoke_marks_the_key_and_an_unknown_name_exits_1(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "api-keys", "create", "--name", "old", "--config", str(config))
    code, out, _ = run(capsys, "api-keys", "revoke", "old", "--config", str(config))
    assert code == 0
    assert "revoked" in out
    _, listed, _ = run(capsys, "api-keys", "list", "--config", str(config))
    assert re.search(r"^old\s.*revoked$", listed, re.MULTILINE)

    code, _, err = run(capsys, "api-keys", "revoke", "nobody", "--config", str(config))
    assert code == 1
    assert "no API key is named 'nobody'" in err


def test_an_unreachable_redis_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sandbox.serve import free_port

    path = tmp_path / "config.toml"
    path.write_text(MINIMAL + f'[redis]\nurl = "redis://127.0.0.1:{free_port()}/0"\n')
    code, _, err = run(capsys, "api-keys", "list", "--config", str(path))
    assert code == 3
    assert "redis" in err.lower()
