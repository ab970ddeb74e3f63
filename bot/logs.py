"""Structured logging: structlog for our code, stdlib loggers (PTB, httpx, uvicorn) routed through it.

Every line passes a redaction step that removes the configured secrets wherever they appear (the bot
token is part of every Bot API URL, which httpx would otherwise log) and masks fields named like secrets.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from bot.redaction import MASK as _MASK
from bot.redaction import url_without_password

_SECRET_FIELD_MARKERS = ("token", "api_key", "secret", "password", "authorization")


class SecretRedactor:
    """A structlog processor that scrubs secret values from every event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values would mask unrelated text; real secrets are long.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def add(self, *secrets: str) -> None:
        """Register more secret values (for example a webhook secret generated at start-up)."""
        self._secrets = sorted({*self._secrets, *(s for s in secrets if s and len(s) >= 6)}, key=len, reverse=True)

    def scrub(self, value: Any) -> Any:
        """Return ``value`` with every secret, and every URL's password, replaced."""
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, _MASK)
            return url_without_password(value)
        if isinstance(value, dict):
            return {k: self._scrub_field(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        return value

    def _scrub_field(self, key: str, value: Any) -> Any:
        lowered = key.lower()
        looks_secret = any(marker in lowered for marker in _SECRET_FIELD_MARKERS)
        if looks_secret and value not in (None, "") and not lowered.endswith(("_id", "_ids", "_count")):
            return _MASK
        return self.scrub(value)

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        for key in list(event_dict):
            if key == "event":
                event_dict[key] = self.scrub(event_dict[key])
            else:
                event_dict[key] = self._scrub_field(key, event_dict[key])
        return event_dict


REDACTOR = SecretRedactor()

_CALLBACKS = "/callbacks/"


class AccessPathRedactor(logging.Filter):
    """Masks provider callback tokens in uvicorn's access lines: ``/callbacks/kie/<token>`` is logged as
    ``/callbacks/kie/***`` (the token is the callback URL's only secret, and it is not a configured one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the path argument of an access line (``client, method, path, version, status``)."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and args[2].startswith(_CALLBACKS):
            provider = args[2][len(_CALLBACKS) :].split("/", 1)[0].split("?", 1)[0]
            record.args = (*args[:2], f"{_CALLBACKS}{provider}/***", *args[3:])
        return True


def redact_access_log() -> None:
    """Put :class:`AccessPathRedactor` on uvicorn's access logger (once, however often it is called)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, AccessPathRedactor) for existing in access.filters):
        access.addFilter(AccessPathRedactor())


def configure_logging(level: str = "info", fmt: str = "auto", secrets: Iterable[str] = ()) -> None:
    """Set up structlog and the stdlib root logger once, for the whole process."""
    REDACTOR.add(*secrets)
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        REDACTOR,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    # Refill the configured list in place rather than handing structlog a new one: a logger cached on first
    # use keeps a reference to the list, so one cached before (or across) a reconfiguration follows it too.
    processors = structlog.get_config()["processors"]
    processors[:] = [*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter]
    structlog.configure(
        processors=processors,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO (Bot API URLs contain the token); keep it for warnings only.
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler.executors.default",
        "apscheduler.scheduler",
        "botocore",
        "aiobotocore",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
