"""Rules a configuration must meet beyond each value's own type: values that depend on each other, URLs an
operator can mistype, and the example file's placeholders left in place.

:func:`problems` lists every rule broken, as ``(dotted key, message)`` pairs, so ``reelay check-config``
reports them all at once. Messages never quote a value (it may be a secret).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from bot.i18n import SOURCE_LANGUAGE, shipped_languages

if TYPE_CHECKING:
    from bot.settings import Settings

MIN_PRODUCTION_INTERVAL_S = 30.0
MIN_API_TOKEN_CHARS = 32
WHSEC_HINT = (
    "python3 -c 'import base64, secrets; print(\"whsec_\" + base64.b64encode(secrets.token_bytes(32)).decode())'"
)
GENERATE_TOKEN_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"

# What config.example.toml puts where a real value belongs; never a working value.
_PLACEHOLDER = re.compile(r"replace[-_ ]?me|change[-_ ]?me|your[-_]|\.\.\.$", re.IGNORECASE)
_EXAMPLE_HOST = re.compile(r"(^|\.)example\.(com|org|net)$", re.IGNORECASE)

# Each URL setting and the schemes it accepts.
_URL_SCHEMES: dict[str, tuple[str, ...]] = {
    "telegram.api_base_url": ("http", "https"),
    "telegram.api_file_url": ("http", "https"),
    "redis.url": ("redis", "rediss", "unix"),
    "storage.local_public_url": ("http", "https"),
    "s3.endpoint_url": ("http", "https"),
    "providers.kie.base_url": ("http", "https"),
    "providers.kie.upload_base_url": ("http", "https"),
    "providers.fal.queue_url": ("http", "https"),
    "providers.fal.jwks_url": ("http", "https"),
    "http.public_url": ("http", "https"),
    "network.proxy_url": ("http", "https", "socks5", "socks5h"),
}

Problem = tuple[str, str]


def problems(settings: Settings) -> list[Problem]:
    """Every rule ``settings`` breaks, in the order of the file's sections."""
    found: list[Problem] = []
    found += _url_problems(settings)
    found += _placeholder_problems(settings)
    found += _poll_problems(settings)
    found += _telegram_problems(settings)
    found += _access_problems(settings)
    if settings.storage.backend == "s3" and not settings.s3.bucket:
        found.append(("s3.bucket", "is required when storage.backend = 's3'"))
    for name in ("api_token", "metrics_token", "console_token"):
        token = getattr(settings.http, name)
        if token is not None and len(token.get_secret_value()) < MIN_API_TOKEN_CHARS:
            message = f"must be at least {MIN_API_TOKEN_CHARS} characters (generate one: {GENERATE_TOKEN_HINT})"
            found.append((f"http.{name}", message))
    found += _webhook_problems(settings)
    model_problems = list(_model_problems(settings))
    found += model_problems
    if settings.credits.enabled and not model_problems:
        found += _price_problems(settings)
    found += _pack_problems(settings)
    found += _translation_problems(settings)
    return found


def _translation_problems(settings: Settings) -> Iterator[Problem]:
    """Operator texts in other languages are keyed by a shipped language's code (the main text is English)."""
    tables = {
        "payments.support_text_translations": settings.payments.support_text_translations,
        "payments.terms_text_translations": settings.payments.terms_text_translations,
    }
    for index, pack in enumerate(settings.credits.packs):
        tables[f"credits.packs[{index}].label_translations"] = pack.label_translations
    others = [code for code in shipped_languages() if code != SOURCE_LANGUAGE]
    for key, table in tables.items():
        for language in table:
            if language not in others:
                yield f"{key}.{language}", f"is not a language the bot speaks; use one of {', '.join(others)}"


def _pack_problems(settings: Settings) -> Iterator[Problem]:
    packs = settings.credits.packs
    seen: set[str] = set()
    for index, pack in enumerate(packs):
        if pack.id in seen:
            yield f"credits.packs[{index}].id", f"{pack.id!r} is used by another pack; each pack needs its own id"
        seen.add(pack.id)
    if packs and not settings.credits.enabled:
        yield "credits.packs", "sells credits, which needs credits.enabled = true"


def _url_problems(settings: Settings) -> Iterator[Problem]:
    for key, schemes in _URL_SCHEMES.items():
        value = _value_at(settings, key)
        if value is None:
            continue
        problem = url_problem(str(value), schemes)
        if problem:
            yield key, problem


def url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """Why ``url`` cannot be used (no scheme, another scheme, no host), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a valid URL"
    wanted = " or ".join(f"{scheme}://" for scheme in schemes)
    if not parts.scheme or "://" not in url:
        return f"must start with {wanted}"
    if parts.scheme.lower() not in schemes:
        return f"must start with {wanted}, not {parts.scheme}://"
    if parts.scheme != "unix" and not parts.hostname:
        return "has no host name"
    return None


def _placeholder_problems(settings: Settings) -> Iterator[Problem]:
    for key, value in _leaves(settings):
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(text, str) or not text:
            continue
        if _PLACEHOLDER.search(text):
            yield key, "still holds the example's placeholder; put the real value here"
        elif key in _URL_SCHEMES and _EXAMPLE_HOST.search(urlsplit(text).hostname or ""):
            yield key, "still points at the example's example.com host"


def _poll_problems(settings: Settings) -> Iterator[Problem]:
    poll = settings.poll
    if poll.interval_s < MIN_PRODUCTION_INTERVAL_S and not poll.allow_fast:
        yield (
            "poll.interval_s",
            f"{poll.interval_s:g} s is under {MIN_PRODUCTION_INTERVAL_S:g} s; real providers ban clients that "
            "poll this fast (set poll.allow_fast = true for tests or the sandbox)",
        )
    pool = settings.providers.kie.max_connections
    if poll.max_in_flight and poll.max_in_flight > pool:
        yield (
            "poll.max_in_flight",
            f"must not exceed providers.kie.max_connections ({pool}), or polls queue inside the HTTP pool",
        )


def _telegram_problems(settings: Settings) -> Iterator[Problem]:
    tg = settings.telegram
    if tg.mode == "webhook":
        if not settings.http.public_url:
            yield "http.public_url", "is required when telegram.mode = 'webhook'"
        if tg.webhook_secret is None:
            yield "telegram.webhook_secret", "is required when telegram.mode = 'webhook'"
    if tg.webhook_secret is not None and not re.fullmatch(
        r"[A-Za-z0-9_-]{16,256}", tg.webhook_secret.get_secret_value()
    ):
        yield "telegram.webhook_secret", "must be 16-256 characters of A-Z, a-z, 0-9, _ and -"


def _access_problems(settings: Settings) -> Iterator[Problem]:
    access = settings.access
    if access.mode == "allowlist" and not access.user_ids and not settings.admin.user_ids:
        yield "access.user_ids", "is empty while access.mode = 'allowlist': nobody could use the bot"
    if access.mode == "invite" and not access.invite_codes:
        yield "access.invite_codes", "is empty while access.mode = 'invite': nobody could join"
    for code in access.invite_codes:
        if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", code.get_secret_value()):
            # /start carries the code as a deep-link payload: 1-64 of these characters; 8 resist guessing.
            yield "access.invite_codes", "each code must be 8-64 characters of A-Z, a-z, 0-9, _ and -"
            break


def _webhook_problems(settings: Settings) -> Iterator[Problem]:
    from bot.settings import WEBHOOK_EVENTS
    from webhooks.signing import InvalidSecret, secret_key

    # Plain http would show the body and the signature to anyone on the path; loopback stand-ins (tests, the
    # sandbox) are allowed along with private addresses.
    schemes = ("http", "https") if settings.network.allow_private_addresses else ("https",)
    for index, endpoint in enumerate(settings.webhooks.endpoints):
        key = f"webhooks.endpoints[{index}]"
        problem = url_problem(endpoint.url.get_secret_value(), schemes)
        if problem:
            yield f"{key}.url", problem
        try:
            secret_key(endpoint.secret.get_secret_value())
        except InvalidSecret as exc:
            yield f"{key}.secret", f"{exc} (generate one: {WHSEC_HINT})"
        unknown = sorted(set(endpoint.events) - set(WEBHOOK_EVENTS))
        if unknown or not endpoint.events:
            yield (
                f"{key}.events",
                f"must list events among {', '.join(WEBHOOK_EVENTS)}"
                + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
            )
    poll_secret = settings.webhooks.poll_video_secret
    if poll_secret is not None:
        try:
            secret_key(poll_secret.get_secret_value())
        except InvalidSecret as exc:
            yield "webhooks.poll_video_secret", f"{exc} (generate one: {WHSEC_HINT})"
    for name in ("discord_webhook_url", "slack_webhook_url"):
        url = getattr(settings.notify, name)
        if url is not None:
            problem = url_problem(url.get_secret_value(), schemes)
            if problem:
                yield f"notify.{name}", problem


def _model_problems(settings: Settings) -> Iterator[Problem]:
    from providers.catalog import all_models

    known = {model.id: model for model in all_models()}
    fal = settings.providers.fal is not None
    enabled = settings.models.enabled
    broken = False
    if enabled is not None:
        if not enabled:
            broken = True
            yield "models.enabled", "is empty: nobody could make a video (leave it out to offer every model)"
        for model_id in enabled:
            entry = known.get(model_id)
            if entry is None:
                broken = True
                yield "models.enabled", f"names {model_id!r}, which is not a model Reelay knows (README, Models)"
            elif entry.provider == "fal" and not fal:
                broken = True
                yield "models.enabled", f"names the fal model {model_id!r}, but [providers.fal] is not configured"
    if not broken and not settings.catalog().is_enabled(settings.defaults.model):
        yield "defaults.model", f"{settings.defaults.model!r} is not among the enabled models (models.enabled)"
    for model_id, fallbacks in settings.failover.items():
        if model_id not in known:
            yield f"failover.{model_id}", "is not a model Reelay knows (README, Models)"
        for fallback in fallbacks:
            if fallback not in known:
                yield f"failover.{model_id}", f"names {fallback!r}, which is not a model Reelay knows"
            elif fallback == model_id:
                yield f"failover.{model_id}", "names the model itself"


def _price_problems(settings: Settings) -> Iterator[Problem]:
    for model in settings.catalog().offered():
        for duration in model.durations_s:
            if settings.credits.price(model.id, duration) is None:
                yield "credits.prices", f"has no price for {model.id} at {duration} s"
    if settings.providers.kie.offer_upgrades:
        for upgrade in ("veo3_1080p", "veo3_4k"):
            if settings.credits.price(upgrade, 8) is None:
                yield "credits.prices", f"has no price for {upgrade} at 8 s (providers.kie.offer_upgrades is on)"


def _value_at(settings: Settings, dotted: str) -> Any:
    value: Any = settings
    for part in dotted.split("."):
        value = getattr(value, part, None)  # None: an optional section that is not there
    return value


def _leaves(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar setting as ``(dotted key, value)``; list items are reported under their list's key."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        key = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from _leaves(value, f"{key}.")
        elif isinstance(value, list | tuple):
            for item in value:
                yield key, item
        else:
            yield key, value
