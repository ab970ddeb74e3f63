"""What must never be shown: the configured secrets, and the password part of any URL.

Used by the log redactor (every log line), ``reelay check-config`` and start-up messages.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from bot.settings import Settings

MASK = "***"
# scheme://user:password@ (the user may be empty, as in redis://:password@host)
_PASSWORD_IN_URL = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?P<password>[^@/\s]+)@", re.IGNORECASE)

# Settings that are URLs and may carry a password.
URL_SETTINGS = (
    ("redis", "url"),
    ("s3", "endpoint_url"),
    ("providers", "kie", "base_url"),
    ("telegram", "api_base_url"),
    ("network", "proxy_url"),
)


def url_without_password(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` in it replaced by ``***``."""
    if "://" not in text:
        return text
    return _PASSWORD_IN_URL.sub(rf"\g<head>{MASK}@", text)


def masked(value: Any) -> Any:
    """A JSON-like value (a settings dump) with every URL's password masked."""
    if isinstance(value, str):
        return url_without_password(value)
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret (and every URL password), so the log redactor removes them wherever they appear."""
    candidates = [
        settings.telegram.token,
        settings.providers.kie.api_key,
        settings.s3.access_key_id,
        settings.s3.secret_access_key,
        settings.telegram.webhook_secret,
        settings.http.api_token,
        settings.http.metrics_token,
        settings.http.console_token,
        *settings.access.invite_codes,
        settings.providers.fal.api_key if settings.providers.fal else None,
        settings.webhooks.poll_video_secret,
        settings.notify.discord_webhook_url,
        settings.notify.slack_webhook_url,
        *(endpoint.secret for endpoint in settings.webhooks.endpoints),
        *(endpoint.url for endpoint in settings.webhooks.endpoints),
    ]
    values = [secret.get_secret_value() for secret in candidates if secret is not None]
    for path in URL_SETTINGS:
        url: Any = settings
        for part in path:
            url = getattr(url, part)
        if url:
            values += _url_passwords(str(url))
    return values


def _url_passwords(url: str) -> list[str]:
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password, unquote(password)] if password else []
