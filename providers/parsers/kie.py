"""Parsers for KIE.ai shapes: Veo record-info, callback and 1080P; Market recordInfo and callback;
Runway record-detail and its flat legacy callback; a bare KIE error envelope (provider-apis.md §1–3)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import structlog

from poller.errors import JobError
from poller.ports import PollResult, TaskState
from providers.kie_errors import (
    envelope_code,
    envelope_message,
    normalize_kie_error,
    task_failure_error,
)
from providers.parsers.common import (
    as_mapping,
    as_progress,
    classify_status,
    dig,
    failed,
    first_url,
    is_envelope,
    is_http_url,
    malformed,
    pending,
    succeeded,
    unwrap,
)

log = structlog.get_logger(__name__)

_MARKET_KEYS = frozenset({"resultJson", "param", "failCode", "failMsg", "costTime", "model"})
_RUNWAY_KEYS = frozenset({"videoInfo", "expireFlag", "generateTime", "parentTaskId"})
_STILL_PROCESSING_WORDS = ("processing", "in progress", "not ready", "generating")


def veo_record_info(payload: object) -> PollResult | None:
    """Veo ``record-info``: ``successFlag`` 0 generating, 1 success, 2/3 failed."""
    data = unwrap(payload)
    if data is None or "successFlag" not in data:
        return None
    flag = envelope_code({"code": data.get("successFlag")})
    if flag == 0:
        return pending("veo_record_info")
    if flag == 1:
        url = first_url(dig(data, "response", "resultUrls")) or first_url(data.get("resultUrls"))
        return succeeded("veo_record_info", url)
    if flag in (2, 3):
        message = str(data.get("errorMessage") or "")
        return failed("veo_record_info", task_failure_error(data.get("errorCode"), message))
    log.warning("parser.veo_unknown_success_flag", success_flag=data.get("successFlag"))
    return pending("veo_record_info")


def veo_callback(payload: object) -> PollResult | None:
    """Veo callback: ``{code, msg, data: {taskId, info: {resultUrls}}}``; ``code`` is the outcome."""
    body = as_mapping(payload)
    data = as_mapping(body.get("data")) if body is not None else None
    if body is None or data is None or not ("info" in data or "promptJson" in data):
        return None
    code = envelope_code(body)
    if code == 200:
        return succeeded("veo_callback", first_url(dig(data, "info", "resultUrls")))
    return failed("veo_callback", task_failure_error(code, envelope_message(body)))


def veo_1080p(payload: object) -> PollResult | None:
    """Veo ``get-1080p-video``: ``data.resultUrl`` (empty while the upgrade is still processing)."""
    data = unwrap(payload)
    if data is None or "resultUrl" not in data or "successFlag" in data or "state" in data:
        return None
    url = data.get("resultUrl")
    if url in (None, ""):
        return pending("veo_1080p")
    if not is_http_url(url):
        raise malformed("veo_1080p", f"resultUrl is not an http(s) URL: {str(url)[:100]}")
    return succeeded("veo_1080p", str(url))


def runway_record_detail(payload: object) -> PollResult | None:
    """Runway ``record-detail``: ``state`` wait/queueing/generating/success/fail, ``videoInfo.videoUrl``."""
    data = unwrap(payload)
    if data is None or "state" not in data or not _RUNWAY_KEYS & data.keys():
        return None
    state = classify_status(data.get("state"))
    if state is TaskState.SUCCEEDED:
        if str(data.get("expireFlag", "0")) == "1":
            return failed("runway_record_detail", task_failure_error(None, "video link expired (expireFlag=1)"))
        return succeeded("runway_record_detail", first_url(dig(data, "videoInfo", "videoUrl")))
    if state is TaskState.FAILED:
        return failed("runway_record_detail", _fail_error(data))
    return pending("runway_record_detail")


def market_record_info(payload: object) -> PollResult | None:
    """Market ``recordInfo`` and its callback: ``state`` plus ``resultJson``, a JSON *string*."""
    data = unwrap(payload)
    if data is None or "state" not in data or not _MARKET_KEYS & data.keys():
        return None
    state = classify_status(data.get("state"))
    if state is TaskState.SUCCEEDED:
        return succeeded("market_record_info", _market_result_url(data.get("resultJson")))
    if state is TaskState.FAILED:
        return failed("market_record_info", _fail_error(data))
    if state is None:
        log.warning("parser.market_unknown_state", state=str(data.get("state"))[:50])
    return pending("market_record_info", as_progress(data.get("progress")))


def legacy_video_url(payload: object) -> PollResult | None:
    """The flat legacy shape ``{data: {video_url}}`` (also the Runway callback, with ``code``)."""
    data = unwrap(payload)
    if data is None or "video_url" not in data:
        return None
    code = envelope_code(payload)
    if code is not None and code != 200:
        return failed("legacy_video_url", task_failure_error(code, envelope_message(payload)))
    url = data.get("video_url")
    if url in (None, "") and code is None:
        return pending("legacy_video_url")
    return succeeded("legacy_video_url", first_url(url))


def kie_error_envelope(payload: object) -> PollResult | None:
    """A bare KIE error body ``{code: 4xx/5xx, msg}``: failed, still processing, or a transient error."""
    if not is_envelope(payload):
        return None
    code = envelope_code(payload)
    if code is None or code == 200:
        return None
    message = envelope_message(payload).lower()
    if code in (400, 422) and any(word in message for word in _STILL_PROCESSING_WORDS):
        return pending("kie_error_envelope")  # an upgrade still rendering (1080P: 400, 4K: 422)
    error = normalize_kie_error(None, payload)
    if error.retryable:
        raise error
    return failed("kie_error_envelope", error)


def _market_result_url(result_json: object) -> str | None:
    if result_json in (None, ""):
        raise malformed("market_record_info", "state success with an empty resultJson")
    result: object = result_json
    if isinstance(result_json, str):
        try:
            result = json.loads(result_json)
        except json.JSONDecodeError:
            raise malformed("market_record_info", f"resultJson is not JSON: {result_json[:100]}") from None
    mapping = as_mapping(result)
    if mapping is None:
        raise malformed("market_record_info", "resultJson is not a JSON object")
    for key in ("resultUrls", "resultUrl", "videoUrl", "video_url", "url"):
        url = first_url(mapping.get(key))
        if url is not None:
            return url
    return None


def _fail_error(data: Mapping[str, Any]) -> JobError:
    return task_failure_error(data.get("failCode"), str(data.get("failMsg") or ""))
