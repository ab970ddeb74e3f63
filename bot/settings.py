"""Configuration: a TOML file plus ``REELAY_<SECTION>__<KEY>`` environment overrides.

Every problem is reported as :class:`ConfigError` naming the dotted key (``poll.interval_s``), so the CLI can
print one clear line and exit 2.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from bot.config_rules import Problem, problems
from poller.errors import ConfigError
from poller.jobs import AspectRatio, TaskKind
from providers.catalog import Catalog


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
    # How long the link a provider fetches a user's photo from stays valid (it fetches it once, soon after the submit).
    input_link_ttl_s: int = Field(default=3600, ge=60, le=7 * 86400)


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
    """KIE.ai (Veo 3.1 and the Market models: Seedance, Kling, Sora 2)."""

    base_url: str = "https://api.kie.ai"
    api_key: SecretStr
    timeout_s: float = Field(default=30.0, gt=0)  # the whole call, however slowly the answer trickles in
    max_connections: int = Field(default=20, gt=0)
    balance_refresh_s: float = Field(default=300.0, gt=0)  # how often reelay_provider_balance asks KIE
    # KIE takes 20 new generation requests per 10 s per account and answers 429 beyond; every process shares this.
    submits_per_10s: int = Field(default=20, gt=0)
    # Hand users' photos to KIE through its own file upload API instead of a presigned link to our store.
    upload_inputs: bool = False
    upload_base_url: str = "https://kieai.redpandaai.co"
    # 1080p and 4K buttons under a delivered Veo video.
    offer_upgrades: bool = False


class FalSettings(_Section):
    """fal.ai's queue API: a second provider (and a failover target)."""

    api_key: SecretStr
    queue_url: str = "https://queue.fal.run"
    timeout_s: float = Field(default=30.0, gt=0)
    # At most this many fal jobs at once across every process (fal's own limit is per account); unset: no limit.
    max_concurrent: int | None = Field(default=None, gt=0)
    jwks_url: str = "https://rest.fal.ai/.well-known/jwks.json"  # the keys fal signs its webhooks with


class ProvidersSettings(_Section):
    """One section per provider API, and what every video download must keep up."""

    kie: KieSettings
    fal: FalSettings | None = None
    # A download slower than this, averaged over 30 s, is aborted (0: no minimum).
    download_min_bytes_per_s: int = Field(default=50_000, ge=0)


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
    """The built-in HTTP server: health, webhooks, callbacks and the API."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None
    api_token: SecretStr | None = None
    max_connections: int = Field(default=1000, gt=0)  # uvicorn's limit_concurrency: 503 beyond it
    header_timeout_s: float = Field(default=10.0, gt=0)  # a request's headers must arrive within this (slowloris)
    metrics_token: SecretStr | None = None  # bearer token for /metrics (unset: open, like most exporters)
    console_token: SecretStr | None = None  # the operator console's sign-in token (unset: the console is off)


class NetworkSettings(_Section):
    """How Reelay reaches the outside: an egress proxy, and which addresses outsiders may send it to."""

    # http://, https:// or socks5:// (user:password@ allowed). Unset: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY from
    # the environment; NO_PROXY applies either way.
    proxy_url: str | None = None
    # Let URLs from outside (provider video links, webhook targets) reach loopback, private and link-local
    # addresses: tests, the sandbox, a private CDN. Off in production (SSRF).
    allow_private_addresses: bool = False


# The events a webhook endpoint may ask for (issue 18, "Webhooks out").
WEBHOOK_EVENTS = ("job.created", "job.running", "job.succeeded", "job.failed", "job.cancelled", "job.published")


class ApiSettings(_Section):
    """The job API (``/v1``) for API keys."""

    requests_per_minute: int = Field(default=120, gt=0)  # per key; 429 with Retry-After beyond


class WebhookEndpoint(_Section):
    """One deployment-wide receiver of job events, signed with its own ``whsec_`` secret."""

    url: SecretStr  # a URL may carry a token in its path or query: never shown
    secret: SecretStr
    events: list[str] = Field(default_factory=lambda: list(WEBHOOK_EVENTS))


class WebhooksSettings(_Section):
    """Signed webhooks out, sent through the durable outbox."""

    endpoints: list[WebhookEndpoint] = Field(default_factory=list)
    max_attempts: int = Field(default=8, gt=0, le=50)  # then the event is dead-lettered (reelay webhooks failed)
    # The waits after failed attempts 1, 2, …; the last one repeats (each ±10 %). Shorter ones suit tests only.
    retry_delays_s: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 3600.0, 21600.0], min_length=1
    )
    poll_video_secret: SecretStr | None = None  # signs the events of /webhook/poll-video's callbackUrl


class NotifySettings(_Section):
    """Chat notifications of finished and published videos (incoming-webhook URLs carry their token: secrets)."""

    discord_webhook_url: SecretStr | None = None
    slack_webhook_url: SecretStr | None = None


class AccessSettings(_Section):
    """Who may use the bot: anyone, a fixed list, or whoever brings an invite code."""

    mode: Literal["open", "allowlist", "invite"] = "open"
    user_ids: list[int] = Field(default_factory=list)  # allowlist mode
    invite_codes: list[SecretStr] = Field(default_factory=list)  # invite mode: /start <code> admits for good


class LimitsSettings(_Section):
    """Guards on user input and on what we download."""

    max_prompt_chars: int = Field(default=2000, gt=0)
    max_video_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    max_active_jobs_per_user: int = Field(default=3, gt=0)
    daily_videos_per_user: int | None = Field(default=None, gt=0)  # per UTC day; admins are never limited
    max_image_bytes: int = Field(default=10 * 1024 * 1024, gt=0)  # a photo to start a video from


# The ``credits.prices`` entries of the upgrades of a delivered Veo video (providers.kie.offer_upgrades).
UPGRADE_PRICES: dict[TaskKind, str] = {TaskKind.UPSCALE_1080P: "veo3_1080p", TaskKind.UPSCALE_4K: "veo3_4k"}


def _default_prices() -> dict[str, dict[int, int]]:
    return {
        "veo3_fast": {8: 10},
        "veo3": {8: 30},
        "veo3_lite": {8: 5},
        "bytedance/seedance-2": {5: 8, 10: 15},
        "bytedance/seedance-2-fast": {5: 5, 10: 10},
        "kling-3.0/video:std": {5: 6, 10: 12},
        "kling-3.0/video:pro": {5: 10, 10: 20},
        "bytedance/v1-pro-text-to-video": {5: 8, 10: 15},
        "sora-2-text-to-video": {10: 15, 15: 20},
        # fal.ai (offered once providers.fal is configured)
        "fal-ai/veo3/fast": {8: 12},
        "fal-ai/veo3": {8: 30},
        "fal-ai/kling-video/v2.5-turbo/pro/text-to-video": {5: 6, 10: 12},
        "fal-ai/bytedance/seedance/v1/pro/text-to-video": {5: 8, 10: 15},
        "fal-ai/minimax/hailuo-02/pro/text-to-video": {6: 8},
        # Upgrades of a delivered Veo video (providers.kie.offer_upgrades), priced per 8 s video.
        "veo3_1080p": {8: 3},
        "veo3_4k": {8: 15},
    }


class CreditPack(_Section):
    """Credits sold for Telegram Stars (``/buy``)."""

    id: str = Field(pattern=r"^[a-z0-9_-]{1,16}$")  # named in the invoice payload: short and plain
    credits: int = Field(gt=0)
    stars: int = Field(gt=0, le=100_000)
    label: str = Field(min_length=1, max_length=32)  # the button and the invoice's price line
    # The label in other shipped languages ({ru = "100 кредитов"}); a user whose language has none sees ``label``.
    label_translations: dict[str, Annotated[str, Field(min_length=1, max_length=32)]] = Field(default_factory=dict)

    def label_in(self, language: str) -> str:
        """The label a user speaking ``language`` sees."""
        return self.label_translations.get(language, self.label)


class CreditsSettings(_Section):
    """Per-user credits: reserved on a new job, captured on success, refunded on failure."""

    enabled: bool = False
    initial_balance: int = Field(default=50, ge=0)
    packs: list[CreditPack] = Field(default_factory=list)  # for sale with /buy; empty: nothing is sold
    referral_bonus: int = Field(default=0, ge=0)  # to both sides of an invitation at the invitee's first purchase
    # model -> {duration in seconds -> credits}
    prices: dict[str, dict[int, int]] = Field(default_factory=_default_prices)

    def price(self, model: str, duration_s: int, kind: TaskKind = TaskKind.GENERATE) -> int | None:
        """Credits for one video, or None when the table has no price for it. The one place prices depend on what a
        job makes: an upgrade of a Veo video (1080p, 4K) is priced by its own entry, whatever the model."""
        return self.prices.get(UPGRADE_PRICES.get(kind, model), {}).get(duration_s)


class PaymentsSettings(_Section):
    """What Telegram's rules for payments in bots ask a seller to answer (/paysupport, /terms)."""

    support_text: str = Field(
        default="For help with a payment, write to the bot's operator; say when you paid and the pack you bought.",
        min_length=1,
        max_length=4096,
    )
    terms_text: str = Field(
        default="Credits are used to make videos with this bot. Purchases are final once the credits are spent.",
        min_length=1,
        max_length=4096,
    )
    # The same texts in other shipped languages ({ru = "…", es = "…"}); a language without one gets the text above.
    support_text_translations: dict[str, Annotated[str, Field(min_length=1, max_length=4096)]] = Field(
        default_factory=dict
    )
    terms_text_translations: dict[str, Annotated[str, Field(min_length=1, max_length=4096)]] = Field(
        default_factory=dict
    )

    def support_text_in(self, language: str) -> str:
        """/paysupport's answer for a user speaking ``language``."""
        return self.support_text_translations.get(language, self.support_text)

    def terms_text_in(self, language: str) -> str:
        """/terms' answer for a user speaking ``language``."""
        return self.terms_text_translations.get(language, self.terms_text)


class ModelsSettings(_Section):
    """Which models users may pick (``/settings``, the HTTP API)."""

    # Unset: every model whose provider is configured, except those off by default (README, "Models").
    enabled: list[str] | None = None


class AdminSettings(_Section):
    """Who may run admin commands (/grant)."""

    user_ids: list[int] = Field(default_factory=list)


class DefaultsSettings(_Section):
    """What a new user gets until they change /settings."""

    model: str = "veo3_fast"
    aspect_ratio: AspectRatio = AspectRatio.LANDSCAPE


class AnalyticsSettings(_Section):
    """The per-model, per-hour aggregates kept in Redis (``reelay stats``, ``/stats``, the console)."""

    retention_days: int = Field(default=90, gt=0)


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
    payments: PaymentsSettings = PaymentsSettings()
    models: ModelsSettings = ModelsSettings()
    # model -> the models to try, in order, when its provider refuses a submit (README, "Failover").
    failover: dict[str, list[str]] = Field(default_factory=dict)
    admin: AdminSettings = AdminSettings()
    access: AccessSettings = AccessSettings()
    network: NetworkSettings = NetworkSettings()
    api: ApiSettings = ApiSettings()
    webhooks: WebhooksSettings = WebhooksSettings()
    notify: NotifySettings = NotifySettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
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
        found = problems(self)
        if found:
            raise _KeyedError(found)
        return self

    def catalog(self) -> Catalog:
        """The models this deployment offers (``models.enabled``, narrowed to the configured providers)."""
        providers = ["kie_veo", "kie_market"] + (["fal"] if self.providers.fal is not None else [])
        return Catalog(enabled=self.models.enabled, providers=providers)

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
    """Rules of :mod:`bot.config_rules` failed; carries every ``(key, message)``."""

    def __init__(self, found: list[Problem]) -> None:
        super().__init__("; ".join(f"{key}: {message}" for key, message in found))
        self.found = found


def load_settings(path: Path | None) -> Settings:
    """Read the TOML file (if it exists or was named) and the environment; raise :class:`ConfigError`
    naming every problem found (``ConfigError.problems``)."""
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
    except SettingsError as exc:
        # pydantic-settings could not decode an environment variable (a list given as 1,2).
        raise _env_error(exc) from exc


def _key_of(loc: tuple[int | str, ...]) -> str:
    """``("credits", "packs", 1, "id")`` -> ``credits.packs[1].id``: the key as the file spells it."""
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "config"


def _config_error_from(exc: ValidationError) -> ConfigError:
    found: list[Problem] = []
    for error in exc.errors(include_url=False):
        ctx_error = error.get("ctx", {}).get("error")
        if isinstance(ctx_error, _KeyedError):
            found += ctx_error.found
            continue
        key = _key_of(error["loc"])
        kind = error["type"]
        if kind == "missing":
            message = "is required but missing"
        elif kind == "extra_forbidden":
            message = "is not a known setting (check the spelling against config.example.toml)"
        else:
            # Never echo the offending value: it may be a secret.
            message = error["msg"]
        found.append((key, message))
    return ConfigError.of(found)


def _env_error(exc: SettingsError) -> ConfigError:
    """Name the ``REELAY_…`` variable that holds a list or table written as something other than JSON."""
    found: list[Problem] = []
    for name, value in sorted(os.environ.items()):
        if not name.upper().startswith(_ENV_PREFIX):
            continue
        key = ".".join(name[len(_ENV_PREFIX) :].lower().split("__"))
        if _expects_json(key):
            try:
                json.loads(value)
            except ValueError:
                found.append((key, f'from {name} must be JSON, for example [1, 2] or {{"a": 1}}'))
    return ConfigError.of(found or [("environment", str(exc))])


_ENV_PREFIX = "REELAY_"


def _expects_json(dotted: str) -> bool:
    """Whether the setting at ``dotted`` is a list, a table or a section (which the environment gives as JSON)."""
    model: Any = Settings
    for part in dotted.split("."):
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return False
        model = fields[part].annotation
    origin = get_origin(model)
    if origin in (list, dict) or (isinstance(model, type) and issubclass(model, BaseModel)):
        return True
    return any(get_origin(arg) in (list, dict) for arg in get_args(model))
