"""Configuration: TOML plus environment, every error naming its key, secrets never printed."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel

from bot.cli import main
from bot.settings import CreditsSettings, Settings, load_settings
from poller.errors import ConfigError
from poller.jobs import TaskKind
from poller.version import VERSION
from providers.catalog import known_model
from providers.catalog_table import FAL_MODELS

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = """
[telegram]
token = "123456:SECRET-TOKEN-VALUE"
[providers.kie]
api_key = "kie-secret-key-value"
[s3]
bucket = "videos"
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("REELAY_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_minimal_file_gets_the_documented_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))

    assert settings.poll.interval_s == 60
    assert settings.poll.max_attempts == 15
    assert settings.poll.backoff == 1.0
    assert settings.telegram.file_url == "https://api.telegram.org/file/bot"
    assert settings.polls_in_flight == settings.providers.kie.max_connections


def test_environment_overrides_nested_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELAY_POLL__MAX_ATTEMPTS", "3")
    monkeypatch.setenv("REELAY_PROVIDERS__KIE__BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("REELAY_TELEGRAM__TOKEN", "999:FROM-ENV")

    settings = load_settings(write(tmp_path, MINIMAL))

    assert settings.poll.max_attempts == 3
    assert settings.providers.kie.base_url == "http://127.0.0.1:9/"
    assert settings.telegram.token.get_secret_value() == "999:FROM-ENV"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (MINIMAL.replace('token = "123456:SECRET-TOKEN-VALUE"', ""), "telegram.token"),
        (MINIMAL + "[poll]\ninterval_s = 5\n", "poll.interval_s"),
        (MINIMAL + "[poll]\ninterval_s = 'soon'\n", "poll.interval_s"),
        (MINIMAL + "[poll]\nmax_attempts = 0\n", "poll.max_attempts"),
        (MINIMAL + "[poll]\nmax_in_flight = 500\n", "poll.max_in_flight"),
        (MINIMAL + "[limits]\nmax_prompt_chars = -1\n", "limits.max_prompt_chars"),
        (MINIMAL + "[polling]\ninterval_s = 60\n", "polling"),
        (MINIMAL + "[storage]\nbackend = 'ftp'\n", "storage.backend"),
        (MINIMAL.replace('bucket = "videos"', ""), "s3.bucket"),
        (MINIMAL.replace('bucket = "videos"', 'bucket = "videos"\nparts_in_flight = 0'), "s3.parts_in_flight"),
        (MINIMAL + "[redis]\nurl = '127.0.0.1:6379'\n", "redis.url"),
        (MINIMAL + "[redis]\nurl = 'http://127.0.0.1:6379'\n", "redis.url"),
        (MINIMAL + "[network]\nproxy_url = 'ftp://proxy:21'\n", "network.proxy_url"),
        (MINIMAL + "[http]\napi_token = 'too-short'\n", "http.api_token"),
        (MINIMAL + "[access]\nmode = 'invite'\n", "access.invite_codes"),
        (MINIMAL + "[access]\nmode = 'allowlist'\n", "access.user_ids"),
        (MINIMAL + "[access]\ninvite_codes = ['a b']\n", "access.invite_codes"),
        (MINIMAL + "[limits]\ndaily_videos_per_user = 0\n", "limits.daily_videos_per_user"),
        (MINIMAL.replace("kie-secret-key-value", "REPLACE-ME"), "providers.kie.api_key"),
        (MINIMAL + "[http]\npublic_url = 'https://reelay.example.com'\n", "http.public_url"),
    ],
)
def test_bad_setting_is_reported_by_its_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))

    assert caught.value.key == key


def test_fast_polling_is_allowed_only_when_asked_for(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL + "[poll]\ninterval_s = 1\nallow_fast = true\n"))

    assert settings.poll.interval_s == 1


def test_invalid_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[telegram\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml")


def test_cli_exits_2_with_one_line_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, MINIMAL + "[poll]\nbackoff = 0.5\n")

    code = main(["run", "--config", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "poll.backoff" in err


def test_console_script_exit_code_is_2(tmp_path: Path) -> None:
    path = write(tmp_path, "[telegram]\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(path)], capture_output=True, text=True, cwd=ROOT
    )

    assert result.returncode == 2
    assert "telegram.token" in result.stderr


def test_check_config_never_prints_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(write(tmp_path, MINIMAL))]) == 0

    out = capsys.readouterr().out
    assert "SECRET-TOKEN-VALUE" not in out
    assert "kie-secret-key-value" not in out
    assert '"interval_s": 60.0' in out


def test_check_config_hides_every_url_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REELAY_REDIS__URL", "redis://default:redis-pass-1@10.1.1.1:6379/0")
    monkeypatch.setenv("REELAY_S3__ENDPOINT_URL", "https://minio:s3-pass-2@minio.internal:9000")
    monkeypatch.setenv("REELAY_PROVIDERS__KIE__BASE_URL", "https://u:kie-pass-3@kie.internal")
    monkeypatch.setenv("REELAY_NETWORK__PROXY_URL", "http://u:proxy-pass-4@proxy.internal:3128")

    assert main(["check-config", "--config", str(write(tmp_path, MINIMAL))]) == 0

    out = capsys.readouterr().out
    for password in ("redis-pass-1", "s3-pass-2", "kie-pass-3", "proxy-pass-4"):
        assert password not in out
    assert '"url": "redis://default:***@10.1.1.1:6379/0"' in out
    assert '"proxy_url": "http://u:***@proxy.internal:3128"' in out


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"reelay {VERSION}"


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        # An optional section (``FalSettings | None``) documents its keys like any other.
        optional = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(optional) == 1 and isinstance(optional[0], type) and issubclass(optional[0], BaseModel):
            annotation = optional[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths.extend(_field_paths(annotation, f"{prefix}{name}."))
        else:
            paths.append(f"{prefix}{name}")
    return paths


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace("kie-secret-key-value", "REPLACE-ME") + "[redis]\nurl = 'localhost'\n[poll]\ninterval_s = 5\n"
    )

    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))

    keys = [key for key, _ in caught.value.problems]
    assert sorted(keys) == ["poll.interval_s", "providers.kie.api_key", "redis.url"]


def test_a_list_in_the_environment_that_is_not_json_names_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REELAY_ADMIN__USER_IDS", "1,2")

    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, MINIMAL))

    assert caught.value.key == "admin.user_ids"
    assert "REELAY_ADMIN__USER_IDS" in caught.value.message


def test_a_json_list_in_the_environment_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELAY_ADMIN__USER_IDS", "[1, 2]")

    assert load_settings(write(tmp_path, MINIMAL)).admin.user_ids == [1, 2]


def test_check_config_refuses_the_examples_placeholders_and_lists_every_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["check-config", "--config", str(ROOT / "config.example.toml")])

    err = capsys.readouterr().err
    assert code == 2
    assert "telegram.token" in err
    assert "providers.kie.api_key" in err
    assert "REPLACE-ME" not in err


def test_example_config_documents_every_key_and_loads(tmp_path: Path) -> None:
    example = (ROOT / "config.example.toml").read_text()
    sections: dict[str, set[str]] = {}
    current = ""
    for line in example.splitlines():
        # An optional section is shown commented out; [[a.b]] documents a list of tables.
        if header := re.match(r"^#?\s?\[{1,2}([\w.]+)\]{1,2}", line):
            current = header.group(1)
            parent, _, name = current.rpartition(".")
            sections.setdefault(parent, set()).add(name)  # a [table] documents a dict-valued key
        elif key := re.match(r"^#?\s?(\w+) = ", line):
            sections.setdefault(current, set()).add(key.group(1))
    documented = {f"{section}.{key}" if section else key for section, keys in sections.items() for key in keys}

    missing = [path for path in _field_paths(Settings) if path not in documented]

    assert missing == []
    tomllib.loads(example)
    filled = example.replace("123456789:REPLACE-ME", "123456789:real-token").replace('"REPLACE-ME"', '"real-key"')
    assert load_settings(write(tmp_path, filled)).poll.interval_s == 60


def test_readme_configuration_reference_names_every_key() -> None:
    readme = (ROOT / "README.md").read_text()

    missing = [path for path in _field_paths(Settings) if f"`{path}`" not in readme]

    assert missing == []


def _problems(tmp_path: Path, extra: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, MINIMAL + extra))
    return caught.value.problems


def test_models_enabled_defaults_to_every_configured_model_but_sora(tmp_path: Path) -> None:
    catalog = load_settings(write(tmp_path, MINIMAL)).catalog()
    offered = [model.id for model in catalog.offered()]
    assert "veo3_fast" in offered
    assert "kling-3.0/video:pro" in offered
    assert "sora-2-text-to-video" not in offered
    assert all(model.provider != "fal" for model in catalog.offered())


def test_with_providers_fal_every_fal_model_is_offered_and_priced_by_default(tmp_path: Path) -> None:
    fal = '[providers.fal]\napi_key = "fal-secret"\n[credits]\nenabled = true\n'

    settings = load_settings(write(tmp_path, MINIMAL + fal))

    offered = [model.id for model in settings.catalog().offered() if model.provider == "fal"]
    assert offered == [model.id for model in FAL_MODELS]
    for model in FAL_MODELS:
        assert all(settings.credits.price(model.id, seconds) for seconds in model.durations_s), model.id


def test_models_enabled_names_unknown_models_fal_without_its_section_and_an_empty_list(tmp_path: Path) -> None:
    problems = _problems(tmp_path, '[models]\nenabled = ["veo3_fast", "veo9", "fal-ai/veo3/fast"]\n')
    messages = [message for key, message in problems if key == "models.enabled"]
    assert any("'veo9'" in message for message in messages)
    if known_model("fal-ai/veo3/fast") is not None:
        assert any("[providers.fal]" in message for message in messages)
    assert [key for key, _ in _problems(tmp_path, "[models]\nenabled = []\n")] == ["models.enabled"]


def test_the_default_model_must_be_enabled(tmp_path: Path) -> None:
    problems = _problems(tmp_path, '[models]\nenabled = ["veo3"]\n')
    assert [key for key, _ in problems] == ["defaults.model"]
    ok = load_settings(write(tmp_path, MINIMAL + '[models]\nenabled = ["veo3"]\n[defaults]\nmodel = "veo3"\n'))
    assert [model.id for model in ok.catalog().offered()] == ["veo3"]


def test_failover_lists_name_known_models_other_than_their_own(tmp_path: Path) -> None:
    problems = _problems(tmp_path, '[failover]\nveo3_fast = ["veo3_fast", "veo9"]\nveo7 = ["veo3"]\n')
    assert sorted(key for key, _ in problems) == ["failover.veo3_fast", "failover.veo3_fast", "failover.veo7"]
    ok = load_settings(write(tmp_path, MINIMAL + '[failover]\nveo3_fast = ["veo3", "veo3_lite"]\n'))
    assert ok.failover == {"veo3_fast": ["veo3", "veo3_lite"]}


def test_prices_are_checked_only_for_enabled_models_and_for_upgrades_when_offered(tmp_path: Path) -> None:
    prices = "[credits]\nenabled = true\n[credits.prices]\nveo3 = { 8 = 30 }\n"
    only_veo3 = '[models]\nenabled = ["veo3"]\n[defaults]\nmodel = "veo3"\n'
    assert load_settings(write(tmp_path, MINIMAL + only_veo3 + prices)).credits.price("veo3", 8) == 30
    upgrades = MINIMAL.replace("[providers.kie]", "[providers.kie]\noffer_upgrades = true") + only_veo3 + prices
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, upgrades))
    assert [message for _, message in caught.value.problems] == [
        "has no price for veo3_1080p at 8 s (providers.kie.offer_upgrades is on)",
        "has no price for veo3_4k at 8 s (providers.kie.offer_upgrades is on)",
    ]


def test_an_upgrade_is_priced_by_its_own_entry_whatever_the_model() -> None:
    credits = CreditsSettings(prices={"veo3": {8: 30}, "veo3_fast": {8: 10}, "veo3_1080p": {8: 3}, "veo3_4k": {8: 15}})

    assert [credits.price(model, 8) for model in ("veo3", "veo3_fast")] == [30, 10]
    assert [credits.price(model, 8, TaskKind.UPSCALE_1080P) for model in ("veo3", "veo3_fast")] == [3, 3]
    assert credits.price("veo3_fast", 8, TaskKind.UPSCALE_4K) == 15
    assert credits.price("veo3_fast", 8, TaskKind.EXTEND) == 10
    assert credits.price("veo3_fast", 5, TaskKind.UPSCALE_4K) is None


def test_credit_packs_need_unique_ids_and_credits_switched_on(tmp_path: Path) -> None:
    pack = '[[credits.packs]]\nid = "p100"\ncredits = 100\nstars = 50\nlabel = "100 credits"\n'

    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, MINIMAL + "[credits]\nenabled = false\n" + pack + pack))

    assert dict(caught.value.problems) == {
        "credits.packs[1].id": "'p100' is used by another pack; each pack needs its own id",
        "credits.packs": "sells credits, which needs credits.enabled = true",
    }


def test_a_pack_id_that_cannot_name_an_invoice_is_refused(tmp_path: Path) -> None:
    pack = '[[credits.packs]]\nid = "Pack One"\ncredits = 100\nstars = 50\nlabel = "100 credits"\n'

    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, MINIMAL + "[credits]\nenabled = true\n" + pack))

    assert [key for key, _ in caught.value.problems] == ["credits.packs[0].id"]


def test_operator_texts_in_other_languages_are_keyed_by_a_shipped_language(tmp_path: Path) -> None:
    pack = (
        '[[credits.packs]]\nid = "p100"\ncredits = 100\nstars = 50\nlabel = "100 credits"\n'
        'label_translations = { ru = "100 кредитов", de = "100 Credits" }\n'
    )
    payments = '[payments]\nterms_text_translations = { es = "Términos", xx = "?" }\n'

    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, MINIMAL + "[credits]\nenabled = true\n" + pack + payments))

    assert dict(caught.value.problems) == {
        "payments.terms_text_translations.xx": "is not a language the bot speaks; use one of es, ru",
        "credits.packs[0].label_translations.de": "is not a language the bot speaks; use one of es, ru",
    }


def test_operator_texts_fall_back_to_the_main_text_in_a_language_without_one(tmp_path: Path) -> None:
    pack = (
        '[[credits.packs]]\nid = "p100"\ncredits = 100\nstars = 50\nlabel = "100 credits"\n'
        'label_translations = { ru = "100 кредитов" }\n'
    )
    payments = '[payments]\nsupport_text = "Write to us"\nsupport_text_translations = { ru = "Напишите нам" }\n'

    settings = load_settings(write(tmp_path, MINIMAL + "[credits]\nenabled = true\n" + pack + payments))

    [sold] = settings.credits.packs
    assert [sold.label_in(code) for code in ("ru", "es", "en")] == ["100 кредитов", "100 credits", "100 credits"]
    assert [settings.payments.support_text_in(code) for code in ("ru", "es")] == ["Напишите нам", "Write to us"]
