"""Configuration: a TOML file plus ``REELAY_<SECTION>__<KEY>`` environment overrides.

Every problem is reported as :class:`ConfigError` naming the dotted key (``poll.interval_s``), so the CLI can
print one clear line and exit 2.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from poller.errors import ConfigError
from poller.jobs import AspectRatio

MIN_PRODUCTION_INTERVAL_S = 30.0


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramSettings(_Section):
    """The bot's identity and how to reach the Bot API."""

    token: SecretStr
    api_base_url: str = "https://api.telegram.org/bot"
    api_file_url: str | None = None  # derived from api_base_url when unset
    publish_channel_id: int | str | None = None
    upload_limit_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    mode: Literal["polling", "webhook"] = "polling"
    webhook_path: str = Field(default="/telegram", pattern=r"^/[\w/.-]*$")
    webhook_secret: SecretStr | None = None

    @property
    def file_url(self) -> str:
        """Base URL for file downloads (``…/file/bot``)."""
        if self.api_file_url:
            return self.api_file_url
        return self.api_base_url.removesuffix("/bot").rstrip("/") + "/file/bot"


class RedisSettings(_Section):
    """Where jobs, sessions and bot data live."""

    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "reelay"
    job_ttl_s: int = Field(default=30 * 86400, gt=0)
    cluster: bool = False


class StorageSettings(_Section):
    """Which blob store keeps finished videos."""

    backend: Literal["s3", "local"] = "s3"
    local_dir: Path = Path("data/videos")
    local_public_url: str | None = None
    link_ttl_s: int = Field(default=7 * 86400, gt=0, le=7 * 86400)  # S3 presigned URLs max out at 7 days


class S3Settings(_Section):
    """S3 (or any S3-compatible store) for finished videos."""

    endpoint_url: str | None = None
    bucket: str = ""
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    prefix: str = "videos/"
    part_size_mb: int = Field(default=8, ge=5, le=512)
    parts_in_flight: int = Field(default=4, ge=1, le=64)


class KieSettings(_Section):
    """KIE.ai (Veo 3 and the Market models: Sora 2, Seedance)."""

    base_url: str = "https://api.kie.ai"
    api_key: SecretStr
    timeout_s: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=20, gt=0)


class ProvidersSettings(_Section):
    """One section per provider API."""

    kie: KieSettings


class PollSettings(_Section):
    """How often and how long the engine polls."""

    interval_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=15, gt=0)
    backoff: float = Field(default=1.0, ge=1.0)
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    allow_fast: bool = False
    first_poll_s: float | None = Field(default=None, ge=0)  # defaults to interval_s
    delayed_interval_s: float = Field(default=300.0, gt=0)
    delayed_deadline_s: float = Field(default=3600.0, gt=0)
    max_in_flight: int | None = Field(default=None, gt=0)  # defaults to providers.kie.max_connections
    submit_attempts: int = Field(default=5, gt=0)
    delivery_attempts: int = Field(default=5, gt=0)
    lease_s: float | None = Field(default=None, gt=0)  # defaults to interval_s (at least 2 s)
    late_check_delays_s: list[float] = Field(default_factory=lambda: [300.0, 1800.0, 7200.0, 21600.0, 86400.0])
    shutdown_grace_s: float = Field(default=30.0, ge=0)


class HttpSettings(_Section):
    """The built-in HTTP server (health, later webhooks)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None
    api_token: SecretStr | None = None


class LimitsSettings(_Section):
    """Guards on user input and on what we download."""

    max_prompt_chars: int = Field(default=2000, gt=0)
    max_video_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    max_active_jobs_per_user: int = Field(default=3, gt=0)


def _default_prices() -> dict[str, dict[int, int]]:
    return {
        "veo3_fast": {8: 10},
        "veo3": {8: 30},
        "sora-2-text-to-video": {10: 15, 15: 20},
        "bytedance/v1-pro-text-to-video": {5: 8, 10: 15},
    }


class CreditsSettings(_Section):
    """Per-user credits: reserved on a new job, captured on success, refunded on failure."""

    enabled: bool = False
    initial_balance: int = Field(default=50, ge=0)
    # model -> {duration in seconds -> credits}
    prices: dict[str, dict[int, int]] = Field(default_factory=_default_prices)

    def price(self, model: str, duration_s: int) -> int | None:
        """Credits for one video, or None when the table has no price for it."""
        return self.prices.get(model, {}).get(duration_s)


class AdminSettings(_Section):
    """Who may run admin commands (/grant)."""

    user_ids: list[int] = Field(default_factory=list)


class DefaultsSettings(_Section):
    """What a new user gets until they change /settings."""

    model: str = "veo3_fast"
    aspect_ratio: AspectRatio = AspectRatio.LANDSCAPE


class LogSettings(_Section):
    """Log level and format (``auto``: JSON unless stderr is a terminal)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(BaseSettings):
    """All of Reelay's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="REELAY_", env_nested_delimiter="__", extra="forbid", frozen=True, case_sensitive=False
    )

    telegram: TelegramSettings
    redis: RedisSettings = RedisSettings()
    storage: StorageSettings = StorageSettings()
    s3: S3Settings = S3Settings()
    providers: ProvidersSettings
    poll: PollSettings = PollSettings()
    http: HttpSettings = HttpSettings()
    limits: LimitsSettings = LimitsSettings()
    defaults: DefaultsSettings = DefaultsSettings()
    credits: CreditsSettings = CreditsSettings()
    admin: AdminSettings = AdminSettings()
    log: LogSettings = LogSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; environment variables win over it.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _check_cross_field_rules(self) -> Settings:
        if self.poll.interval_s < MIN_PRODUCTION_INTERVAL_S and not self.poll.allow_fast:
            raise _KeyedError(
                "poll.interval_s",
                f"{self.poll.interval_s:g} s is under {MIN_PRODUCTION_INTERVAL_S:g} s; real providers ban clients that "
                "poll this fast (set poll.allow_fast = true for tests or the sandbox)",
            )
        if self.poll.max_in_flight and self.poll.max_in_flight > self.providers.kie.max_connections:
            raise _KeyedError(
                "poll.max_in_flight",
                f"must not exceed providers.kie.max_connections ({self.providers.kie.max_connections}), "
                "or polls queue inside the HTTP pool",
            )
        if self.storage.backend == "s3" and not self.s3.bucket:
            raise _KeyedError("s3.bucket", "is required when storage.backend = 's3'")
        if self.telegram.mode == "webhook":
            if not self.http.public_url:
                raise _KeyedError("http.public_url", "is required when telegram.mode = 'webhook'")
            if self.telegram.webhook_secret is None:
                raise _KeyedError("telegram.webhook_secret", "is required when telegram.mode = 'webhook'")
        if self.telegram.webhook_secret is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{16,256}", self.telegram.webhook_secret.get_secret_value()
        ):
            raise _KeyedError("telegram.webhook_secret", "must be 16-256 characters of A-Z, a-z, 0-9, _ and -")
        if self.credits.enabled:
            self._check_price_table()
        return self

    def _check_price_table(self) -> None:
        from providers.catalog import all_models

        for model in all_models():
            for duration in model.durations_s:
                if self.credits.price(model.id, duration) is None:
                    raise _KeyedError("credits.prices", f"has no price for {model.id} at {duration} s")

    @property
    def lease_s(self) -> float:
        """How long a worker's leases outlive its last heartbeat."""
        return self.poll.lease_s if self.poll.lease_s is not None else max(2.0, self.poll.interval_s)

    @property
    def polls_in_flight(self) -> int:
        """The bound on concurrent provider polls (never above the HTTP pool)."""
        return self.poll.max_in_flight or self.providers.kie.max_connections

    @property
    def first_poll_delay_s(self) -> float:
        """Seconds between a submission and its first poll."""
        return self.poll.interval_s if self.poll.first_poll_s is None else self.poll.first_poll_s


class _KeyedError(ValueError):
    """A cross-field rule failed; carries the key to name."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def load_settings(path: Path | None) -> Settings:
    """Read the TOML file (if it exists or was named) and the environment; raise :class:`ConfigError`."""
    data: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError("--config", f"file {path} not found")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from exc
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise _config_error_from(exc) from exc


def _config_error_from(exc: ValidationError) -> ConfigError:
    error = exc.errors(include_url=False)[0]
    key = ".".join(str(part) for part in error["loc"] if not isinstance(part, int)) or "config"
    ctx_error = error.get("ctx", {}).get("error")
    if isinstance(ctx_error, _KeyedError):
        return ConfigError(ctx_error.key, ctx_error.message)
    kind = error["type"]
    if kind == "missing":
        message = "is required but missing"
    elif kind == "extra_forbidden":
        message = "is not a known setting (check the spelling against config.example.toml)"
    else:
        # Never echo the offending value: it may be a secret.
        message = error["msg"]
    return ConfigError(key, message)
