"""What Reelay posts: the signed job event body, and the Discord and Slack incoming-webhook messages.

The job event is ``{"type", "timestamp", "data": <the job JSON>}`` (issue 18), serialized compactly as UTF-8; the
bytes built here are the bytes signed and sent.

Chat messages follow each service's documented incoming-webhook format:

* Discord, "Execute Webhook" (https://discord.com/developers/docs/resources/webhook#execute-webhook): a JSON body
  with ``content`` (at most 2000 characters) and/or ``embeds`` (embed objects,
  https://discord.com/developers/docs/resources/message#embed-object: ``title`` at most 256 characters,
  ``description`` at most 4096, ``url``, ``fields`` of ``name``/``value`` at most 256/1024). ``allowed_mentions``
  with an empty ``parse`` list keeps an ``@everyone`` in a prompt from pinging anyone.
* Slack, incoming webhooks (https://api.slack.com/messaging/webhooks): ``text`` (the fallback shown in
  notifications) and ``blocks`` (Block Kit, https://api.slack.com/reference/block-kit/blocks#section: a section's
  ``mrkdwn`` text at most 3000 characters), with ``&``, ``<`` and ``>`` escaped
  (https://api.slack.com/reference/surfaces/formatting#escaping) so a prompt cannot forge a link or a mention.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

PROMPT_START_CHARS = 120
_DISCORD_MARKDOWN = re.compile(r"([\\*_~`|\[\]()>#-])")


class NoticeKind(StrEnum):
    """Which moment a chat message announces."""

    READY = "ready"
    PUBLISHED = "published"


_TITLES = {NoticeKind.READY: "Video ready", NoticeKind.PUBLISHED: "Video published"}


def event_body(event_type: str, job: dict[str, Any], *, now: datetime | None = None) -> bytes:
    """The body of a signed job event: ``{"type", "timestamp" (ISO 8601, UTC), "data": job}``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    timestamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    document = {"type": event_type, "timestamp": timestamp, "data": job}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class VideoNotice:
    """What a chat message says: the model, the prompt (only its start is shown) and the video's link."""

    kind: NoticeKind
    model: str
    prompt: str
    video_url: str

    @classmethod
    def from_job(cls, kind: NoticeKind, job: dict[str, Any]) -> VideoNotice:
        """From the job JSON (``model``, ``prompt``, ``video.url``); ValueError when it has no video yet."""
        video = job.get("video") or {}
        url = video.get("url") if isinstance(video, dict) else None
        if not url:
            raise ValueError("the job has no video link yet")
        return cls(kind, str(job.get("model", "")), str(job.get("prompt", "")), str(url))


def prompt_start(prompt: str, limit: int = PROMPT_START_CHARS) -> str:
    """The first ``limit`` characters of a prompt on one line, cut at a word where possible, with ``…`` when cut."""
    flat = " ".join(prompt.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def discord_message(notice: VideoNotice) -> bytes:
    """An Execute Webhook body: a one-line ``content`` with the link, and an embed with the details."""
    title = _TITLES[notice.kind]
    start = prompt_start(notice.prompt)
    body = {
        "content": f"{title}: {notice.video_url}"[:2000],
        "embeds": [
            {
                "title": title,
                "url": notice.video_url,
                "description": _discord_escape(start)[:4096],
                "fields": [{"name": "Model", "value": _discord_escape(notice.model)[:1024] or "-", "inline": True}],
            }
        ],
        "allowed_mentions": {"parse": []},
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def slack_message(notice: VideoNotice) -> bytes:
    """An incoming-webhook body: ``text`` for notifications, and one section block with a link."""
    title = _TITLES[notice.kind]
    start = prompt_start(notice.prompt)
    model = _slack_escape(notice.model)
    link = f"<{_slack_escape(notice.video_url)}|Watch the video>"
    section = f"*{title}* · `{model}`\n>{_slack_escape(start)}\n{link}"
    body = {
        "text": f"{title} ({model}): {_slack_escape(start)} {_slack_escape(notice.video_url)}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": section[:3000]}}],
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _discord_escape(text: str) -> str:
    # Markdown in a prompt would otherwise render (a masked link, a heading).
    return _DISCORD_MARKDOWN.sub(r"\\\1", text)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
