"""The parser chain: try each known response format in turn; unknown shapes are PENDING, not crashes.

Contract of :func:`parse_status`:

- a recognised shape gives its :class:`PollResult` (``parser`` names the format);
- a recognised shape that cannot be used (success without a video URL, ``resultJson`` that is not
  JSON, a body that is not JSON at all, a KIE error envelope with a transient code) raises a
  **retryable** ``JobError(PROVIDER_UNAVAILABLE)``: it costs the job one attempt, like any transient
  poll error, and never ends it early;
- an unknown shape is logged (raw body truncated to 500 characters) and answers PENDING with
  ``parser="unknown"``: the engine's attempt limit decides when to give up.

Adapters pass the envelope's ``data``; callbacks and the polling-webhook contract pass whole bodies.
Both work: every parser looks inside ``{code, msg, data}`` itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import structlog

from poller.errors import ErrorCode, JobError
from poller.ports import PollResult, TaskState
from providers.parsers.common import unwrap
from providers.parsers.fal import fal_queue_status, fal_result, fal_webhook
from providers.parsers.generic import generic_video_url
from providers.parsers.kie import (
    kie_error_envelope,
    legacy_video_url,
    market_record_info,
    runway_record_detail,
    veo_1080p,
    veo_callback,
    veo_record_info,
)
from providers.parsers.workflow import workflow_market_style, workflow_veo_style

log = structlog.get_logger(__name__)

Parser = Callable[[object], PollResult | None]

# Most specific first: the generic parser would also accept most of the shapes above it.
PARSERS: tuple[Parser, ...] = (
    fal_webhook,
    veo_callback,
    veo_record_info,
    runway_record_detail,
    market_record_info,
    veo_1080p,
    legacy_video_url,
    workflow_market_style,
    workflow_veo_style,
    fal_queue_status,
    fal_result,
    kie_error_envelope,
    generic_video_url,
)
RAW_LOG_CHARS = 500


def parse_status(payload: object, parsers: tuple[Parser, ...] = PARSERS) -> PollResult:
    """Read a provider status answer (object, or raw JSON text/bytes) into a :class:`PollResult`."""
    if isinstance(payload, str | bytes | bytearray):
        payload = _decode(payload)
    for parser in parsers:
        try:
            result = parser(payload)
        except JobError:
            raise
        except Exception:  # a parser bug must not crash polling; the next parser may still know it
            log.exception("parser.crashed", parser=parser.__name__, body=truncate(payload))
            continue
        if result is not None:
            if result.state is TaskState.SUCCEEDED and result.cost is None:
                cost = reported_cost(payload)
                if cost is not None:
                    return replace(result, cost=cost)
            return result
    log.warning("parser.unknown_shape", body=truncate(payload))
    return PollResult(TaskState.PENDING, parser="unknown")


# Where providers say what a task cost in their own credits (KIE: creditsConsumed on record-info and callbacks).
COST_KEYS = ("creditsConsumed", "credits_consumed", "costCredits", "cost_credits")


def reported_cost(payload: object) -> float | None:
    """The cost the answer reports for the task, in the provider's credits; None when it reports none."""
    for holder in (unwrap(payload), payload):
        if not isinstance(holder, dict):
            continue
        for key in COST_KEYS:
            value = holder.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                return float(value)
    return None


def truncate(payload: object, limit: int = RAW_LOG_CHARS) -> str:
    """``payload`` as compact JSON (or repr), cut to ``limit`` characters for the logs."""
    try:
        text = json.dumps(payload, default=str, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(payload)
    return text if len(text) <= limit else f"{text[:limit]}…"


def _decode(raw: str | bytes | bytearray) -> object:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
        log.warning("parser.malformed_body", body=text[:RAW_LOG_CHARS])
        raise JobError(ErrorCode.PROVIDER_UNAVAILABLE, f"malformed body: {text[:200]}") from None
