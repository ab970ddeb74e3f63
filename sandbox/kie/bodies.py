"""JSON bodies the simulator answers with, in the documented KIE shapes (provider-apis.md §1–2)."""

from __future__ import annotations

import json
import time
from typing import Any

from sandbox.kie.state import SimTask

MESSAGES = {
    400: "Bad request",
    401: "You do not have access permissions",
    402: "Insufficient credits",
    404: "Not found",
    422: "Validation error",
    429: "Rate limit exceeded: at most 20 new requests per 10 seconds",
    451: "Unavailable for legal reasons",
    455: "Service under maintenance, please try again later",
    500: "Internal server error",
    501: "Generation failed",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
    505: "Feature disabled",
}
FAIL_MESSAGE = "Video generation failed: internal model error"
MODERATION_MESSAGE = "Your prompt was flagged by the content policy (sensitive content)"
# What a "malformed" fault answers: JSON cut off mid-object.
MALFORMED_BODY = b'{"code": 200, "msg": "success", "data": {"taskId": '
# What a "deep_json" fault answers: 400 kB of nested brackets, deeper than any JSON parser recurses.
DEEP_JSON_BODY = b"[" * 200_000 + b"]" * 200_000


def envelope(code: int, data: Any = None, msg: str | None = None) -> dict[str, Any]:
    """KIE's ``{code, msg, data}`` envelope."""
    return {"code": code, "msg": msg or ("success" if code == 200 else MESSAGES.get(code, "Error")), "data": data}


def unknown_shape(task_id: str | None) -> dict[str, Any]:
    """A well-formed body in a shape no parser knows (the "unknown_shape" fault)."""
    return envelope(200, {"jobRef": task_id, "phase": "mystery", "eta": "soon"})


def video_url(task: SimTask, public_url: str | None) -> str:
    """Where the task's video is served."""
    return f"{(public_url or task.base_url).rstrip('/')}/files/{task.id}.mp4"


def veo_record_info(task: SimTask, public_url: str | None) -> dict[str, Any]:
    """``GET /api/v1/veo/record-info`` ``data`` for ``task``."""
    data: dict[str, Any] = {
        "taskId": task.id,
        "paramJson": json.dumps(task.body),
        "successFlag": 0,
        "errorCode": None,
        "errorMessage": "",
        "createTime": _clock(task.created_at),
        "completeTime": None,
        "response": None,
        "fallbackFlag": False,
    }
    if not task.finished or task.finished_at is None:
        return data
    data["completeTime"] = _clock(task.finished_at)
    if task.outcome == "success":
        data["successFlag"] = 1
        data["response"] = {
            "taskId": task.id,
            "resultUrls": [video_url(task, public_url)],
            "originUrls": [],
            "resolution": "720p",
        }
    elif task.outcome == "moderation":
        data.update(successFlag=2, errorCode=400, errorMessage=MODERATION_MESSAGE)
    else:
        data.update(successFlag=3, errorCode=501, errorMessage=FAIL_MESSAGE)
    return data


def market_record_info(task: SimTask, public_url: str | None) -> dict[str, Any]:
    """``GET /api/v1/jobs/recordInfo`` ``data`` for ``task``."""
    created_ms = int(task.created_at * 1000)
    data: dict[str, Any] = {
        "taskId": task.id,
        "model": task.model,
        "state": "waiting" if task.normal_polls <= 1 else "generating",
        "param": json.dumps(task.body),
        "resultJson": None,
        "failCode": "",
        "failMsg": "",
        "costTime": None,
        "progress": round(task.progress()),
        "createTime": created_ms,
        "updateTime": int(time.time() * 1000),
        "completeTime": None,
    }
    if not task.finished or task.finished_at is None:
        return data
    done_ms = int(task.finished_at * 1000)
    data.update(completeTime=done_ms, updateTime=done_ms, costTime=done_ms - created_ms, progress=100)
    if task.outcome == "success":
        data.update(state="success", resultJson=json.dumps({"resultUrls": [video_url(task, public_url)]}))
    elif task.outcome == "moderation":
        data.update(state="fail", failCode="400", failMsg=MODERATION_MESSAGE)
    else:
        data.update(state="fail", failCode="500", failMsg=FAIL_MESSAGE)
    return data


def callback_body(task: SimTask, public_url: str | None) -> dict[str, Any]:
    """The body POSTed to ``callBackUrl`` when ``task`` ends (§1.5 for Veo, §2.3 for Market)."""
    if task.api == "market":
        code = 200 if task.outcome == "success" else 501
        msg = "success" if code == 200 else market_record_info(task, public_url)["failMsg"]
        return envelope(code, market_record_info(task, public_url), msg)
    data: dict[str, Any] = {"taskId": task.id, "promptJson": json.dumps(task.body), "info": None}
    data["fallbackFlag"] = False
    if task.outcome == "success":
        data["info"] = {"resultUrls": [video_url(task, public_url)], "originUrls": [], "resolution": "720p"}
        return envelope(200, data, "Veo3.1 video generated successfully.")
    if task.outcome == "moderation":
        return envelope(400, data, MODERATION_MESSAGE)
    return envelope(501, data, FAIL_MESSAGE)


def _clock(epoch_s: float) -> str:
    """Veo's "YYYY-MM-DD HH:MM:SS" timestamps."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch_s))
