"""Logs are structured and never carry a secret."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import structlog

from bot.logs import SecretRedactor, configure_logging
from bot.redaction import secret_values
from bot.settings import load_settings

TOKEN = "123456:AAE-very-secret-bot-token"


def test_redactor_removes_secrets_anywhere_in_the_event() -> None:
    redactor = SecretRedactor([TOKEN, "kie-key-abcdef"])
    event = {
        "event": f"POST https://api.telegram.org/bot{TOKEN}/sendMessage",
        "nested": {"url": f"/bot{TOKEN}/getMe", "list": [f"x{TOKEN}x"]},
        "api_key": "anything at all",
        "authorization": "Bearer kie-key-abcdef",
        "user_id": 42,
        "token_count": 3,
    }

    scrubbed = redactor(None, "info", event)

    assert TOKEN not in json.dumps(scrubbed)
    assert "kie-key-abcdef" not in json.dumps(scrubbed)
    assert scrubbed["api_key"] == "***"
    assert scrubbed["user_id"] == 42
    assert scrubbed["token_count"] == 3


def test_stdlib_and_structlog_lines_are_json_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json", [TOKEN])
    try:
        logging.getLogger("telegram.ext").warning("failed calling https://api.telegram.org/bot%s/getUpdates", TOKEN)
        structlog.get_logger("reelay.test").info("job.created", job_id="abc", secret_note=TOKEN)
    finally:
        logging.getLogger().handlers.clear()

    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]

    assert TOKEN not in json.dumps(lines)
    assert lines[0]["level"] == "warning"
    assert lines[1]["job_id"] == "abc"
    assert lines[1]["event"] == "job.created"


def test_the_password_of_any_url_is_removed_even_when_it_was_never_configured() -> None:
    redactor = SecretRedactor()
    event = {
        "event": "redis.reconnect",
        "url": "redis://:hunter2@cache.internal:6379/0",
        "error": "cannot reach http://proxy-user:p%40ss@proxy.internal:3128 (refused)",
    }

    scrubbed = redactor(None, "warning", event)

    assert scrubbed["url"] == "redis://:***@cache.internal:6379/0"
    assert scrubbed["error"] == "cannot reach http://proxy-user:***@proxy.internal:3128 (refused)"


def test_the_configured_url_passwords_are_secrets_wherever_they_appear(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[telegram]\ntoken = "123:tok-value-long"\n[providers.kie]\napi_key = "kie-key-value"\n'
        '[storage]\nbackend = "local"\n[redis]\nurl = "redis://:the-redis-password@10.0.0.9:6379/0"\n'
        '[network]\nproxy_url = "socks5://me:the-proxy-password@10.0.0.8:1080"\n'
    )
    secrets = secret_values(load_settings(config))

    assert {"the-redis-password", "the-proxy-password", "123:tok-value-long", "kie-key-value"} <= set(secrets)
