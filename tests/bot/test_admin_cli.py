"""``reelay api-keys`` and ``reelay webhooks`` through the CLI's main, against the real local Redis."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.cli import main
from storage.api_keys import RedisApiKeys
from storage.webhook_outbox import Target, WebhookOutbox
from tests.bot.test_settings import MINIMAL
from webhooks.publisher import endpoint_name
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


SECRET_URL = "https://user:pa55word@hooks.test/services/T0/B0/t0ken-in-path?sig=s3cret-in-query"


async def dead_letter(redis_client: aioredis.Redis, endpoint: str = "endpoint:abc", *, gone: bool = False) -> str:
    outbox = WebhookOutbox(redis_client, prefix="cli")
    event_id = await outbox.enqueue("job.failed", Target(endpoint, SECRET_URL, "endpoint:abc"), b"{}")
    event = await outbox.claim(event_id, lease_s=30)
    assert event is not None
    if gone:
        await outbox.disable_endpoint(event, "HTTP 410 Gone: endpoint disabled")
    else:
        await outbox.dead_letter(event, "HTTP 500")
    return event_id


async def test_webhooks_failed_lists_dead_letters_without_the_urls_secrets(
    config: Path, capsys: pytest.CaptureFixture[str], redis_client: aioredis.Redis
) -> None:
    event_id = await dead_letter(redis_client)

    code, out, err = await arun(capsys, "webhooks", "failed", "--config", str(config))

    assert code == 0
    [row] = [line for line in out.splitlines() if line.startswith(event_id)]
    assert "job.failed" in row
    assert "endpoint:abc https://hooks.test/…" in row
    assert " 1 " in row
    assert row.endswith("HTTP 500")
    for secret in ("pa55word", "t0ken-in-path", "s3cret-in-query", "user"):
        assert secret not in out + err


async def test_webhooks_retry_requeues_a_dead_letter_and_an_unknown_id_exits_1(
    config: Path, capsys: pytest.CaptureFixture[str], redis_client: aioredis.Redis
) -> None:
    event_id = await dead_letter(redis_client)

    code, out, _ = await arun(capsys, "webhooks", "retry", event_id, "--config", str(config))
    assert code == 0
    assert event_id in out
    outbox = WebhookOutbox(redis_client, prefix="cli")
    assert await outbox.due_ids() == [event_id]
    assert await outbox.dead() == []

    code, _, err = await arun(capsys, "webhooks", "retry", event_id, "--config", str(config))
    assert code == 1
    assert "no dead-lettered webhook event" in err
    code, _, err = await arun(capsys, "webhooks", "retry", "msg_nope", "--config", str(config))
    assert code == 1


async def test_webhooks_endpoints_shows_configured_ones_and_those_a_410_disabled(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str], redis_client: aioredis.Redis
) -> None:
    hook_url = "https://hooks.test/reelay?token=t0k3n"
    path = tmp_path / "config.toml"
    path.write_text(
        MINIMAL
        + f'[redis]\nurl = "{redis_url}"\nprefix = "cli"\n'
        + f'[webhooks]\nendpoints = [{{ url = "{hook_url}", secret = "{new_secret()}", events = ["job.failed"] }}]\n'
        + '[notify]\ndiscord_webhook_url = "https://discord.test/api/webhooks/1/d1sc0rd"\n'
    )
    configured = endpoint_name("endpoint", hook_url)
    await dead_letter(redis_client, configured, gone=True)
    await dead_letter(redis_client, "callback:0123456789abcdef", gone=True)

    code, out, err = await arun(capsys, "webhooks", "endpoints", "--config", str(path))

    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(("NAME", "outbox"))}
    assert set(rows) == {configured, "discord", "callback:0123456789abcdef"}
    assert "disabled by a 410" in rows[configured]
    assert "job.failed" in rows[configured]
    assert rows["discord"].rstrip().endswith("active")
    assert "disabled by a 410" in rows["callback:0123456789abcdef"]
    assert "2 dead-lettered" in out
    for secret in ("t0k3n", "d1sc0rd"):
        assert secret not in out + err
