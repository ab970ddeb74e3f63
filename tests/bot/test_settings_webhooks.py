"""The [api], [webhooks] and [notify] sections: defaults, and every problem named by its key without the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.redaction import secret_values
from bot.settings import WEBHOOK_EVENTS, load_settings
from poller.errors import ConfigError
from tests.bot.test_settings import MINIMAL, write
from webhooks.signing import new_secret

SECRET = new_secret()
HOOK = f'url = "https://hooks.test/a", secret = "{SECRET}"'


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("REELAY_"):
            monkeypatch.delenv(name)


def test_defaults_follow_the_issue(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.api.requests_per_minute == 120
    assert settings.webhooks.endpoints == []
    assert settings.webhooks.max_attempts == 8
    assert settings.webhooks.retry_delays_s == [5.0, 30.0, 120.0, 600.0, 3600.0, 21600.0]
    assert settings.webhooks.poll_video_secret is None
    assert settings.notify.discord_webhook_url is None
    assert settings.notify.slack_webhook_url is None


def test_endpoints_read_with_all_events_by_default_and_their_secrets_are_redacted(tmp_path: Path) -> None:
    text = MINIMAL + (
        "[webhooks]\nendpoints = [\n"
        f'  {{ url = "https://hooks.test/a?token=t0ken-in-query", secret = "{SECRET}" }},\n'
        f'  {{ url = "https://hooks.test/b", secret = "{SECRET}", events = ["job.failed"] }},\n'
        "]\n[notify]\n"
        'discord_webhook_url = "https://discord.test/api/webhooks/1/disc0rd-t0ken"\n'
    )
    settings = load_settings(write(tmp_path, text))
    first, second = settings.webhooks.endpoints
    assert first.events == list(WEBHOOK_EVENTS)
    assert second.events == ["job.failed"]
    hidden = secret_values(settings)
    assert SECRET in hidden
    assert "https://hooks.test/a?token=t0ken-in-query" in hidden
    assert "https://discord.test/api/webhooks/1/disc0rd-t0ken" in hidden


@pytest.mark.parametrize(
    ("section", "key"),
    [
        (
            f'[webhooks]\nendpoints = [{{ url = "http://hooks.test/a", secret = "{SECRET}" }}]\n',
            "webhooks.endpoints[0].url",
        ),
        (f'[webhooks]\nendpoints = [{{ url = "hooks.test/a", secret = "{SECRET}" }}]\n', "webhooks.endpoints[0].url"),
        (
            '[webhooks]\nendpoints = [{ url = "https://hooks.test/a", secret = "whsec_bad!" }]\n',
            "webhooks.endpoints[0].secret",
        ),
        (
            '[webhooks]\nendpoints = [{ url = "https://hooks.test/a", secret = "plainsecret" }]\n',
            "webhooks.endpoints[0].secret",
        ),
        (
            f'[webhooks]\nendpoints = [{{ {HOOK}, events = ["job.done"] }}]\n',
            "webhooks.endpoints[0].events",
        ),
        (
            f"[webhooks]\nendpoints = [{{ {HOOK}, events = [] }}]\n",
            "webhooks.endpoints[0].events",
        ),
        ("[webhooks]\nmax_attempts = 0\n", "webhooks.max_attempts"),
        ("[webhooks]\nretry_delays_s = []\n", "webhooks.retry_delays_s"),
        ("[webhooks]\nretry_delays_s = [5, 0]\n", "webhooks.retry_delays_s[1]"),
        ('[webhooks]\npoll_video_secret = "whsec_c2hvcnQ="\n', "webhooks.poll_video_secret"),
        ('[notify]\ndiscord_webhook_url = "http://discord.test/api/webhooks/1/tok"\n', "notify.discord_webhook_url"),
        ('[notify]\nslack_webhook_url = "ftp://hooks.slack.test/services/T/B/tok"\n', "notify.slack_webhook_url"),
        ("[api]\nrequests_per_minute = 0\n", "api.requests_per_minute"),
    ],
)
def test_each_problem_names_its_key_and_never_the_value(tmp_path: Path, section: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, MINIMAL + section))
    assert key in [found for found, _ in caught.value.problems]
    shown = " ".join(message for _, message in caught.value.problems)
    assert SECRET not in shown
    assert "tok" not in shown.replace("token", "")


def test_plain_http_targets_pass_when_private_addresses_are_allowed(tmp_path: Path) -> None:
    text = MINIMAL + (
        f'[webhooks]\nendpoints = [{{ url = "http://127.0.0.1:9/hook", secret = "{SECRET}" }}]\n'
        '[notify]\nslack_webhook_url = "http://127.0.0.1:9/slack"\n'
        "[network]\nallow_private_addresses = true\n"
    )
    settings = load_settings(write(tmp_path, text))
    assert settings.webhooks.endpoints[0].url.get_secret_value() == "http://127.0.0.1:9/hook"


def test_check_config_hides_endpoint_urls_secrets_and_notify_urls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    text = MINIMAL + (
        f'[webhooks]\nendpoints = [{{ url = "https://hooks.test/a?token=t0ken-in-query", secret = "{SECRET}" }}]\n'
        f'poll_video_secret = "{SECRET}"\n'
        '[notify]\nslack_webhook_url = "https://hooks.slack.test/services/T/B/sl4ck-t0ken"\n'
    )
    code = main(["check-config", "--config", str(write(tmp_path, text))])

    out, err = capsys.readouterr()
    assert code == 0
    assert '"requests_per_minute": 120' in out
    for secret in (SECRET, SECRET.removeprefix("whsec_"), "t0ken-in-query", "sl4ck-t0ken"):
        assert secret not in out + err
