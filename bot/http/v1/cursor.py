"""The opaque cursor of ``GET /v1/jobs``: where the next, older page starts (a creation time and a job id)."""

from __future__ import annotations

import base64
import re

from bot.http.v1.errors import invalid

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def encode_cursor(score_ms: int, job_id: str) -> str:
    """``<ms>:<id>`` in URL-safe base64, without padding: clients must not read or build it."""
    return base64.urlsafe_b64encode(f"{score_ms}:{job_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The position a cursor names, or 422 naming ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, _, job_id = raw.partition(":")
        if not score.isdigit() or len(score) > 16 or not _ID.fullmatch(job_id):
            raise ValueError(raw)
        return int(score), job_id
    except ValueError:
        raise invalid("cursor", "not a cursor this API handed out") from None
