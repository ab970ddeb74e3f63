"""Logs are structured and never carry a secret."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from bot.logs import SecretRedactor, configure_logging

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
