"""From what happens to a job to entries in the outbox: one per matching endpoint, the job's callback, and the chat
notices. The lead's listener on ``poller.events`` calls it; nothing is sent here (``webhooks.sender`` sends).

Each target has an endpoint name (what a 410 disables) and, when signed, a secret reference that
:class:`SecretBook` resolves as the sender signs: a configured endpoint's secret, an API key's (for its jobs'
``callback_url``; a revoked key's events are no longer signed, so not sent) or ``webhooks.poll_video_secret``.
Names are derived from the URL's hash, never the URL: they appear in logs and listings, and a URL may hold a token.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from storage.webhook_outbox import NewEvent, Target, WebhookOutbox, new_event_id
from webhooks.formats import NoticeKind, VideoNotice, discord_message, event_body, slack_message

ENDPOINT_REF = "endpoint:"
API_KEY_REF = "apikey:"
POLL_VIDEO_REF = "poll_video"
DISCORD = "discord"
SLACK = "slack"


def endpoint_name(kind: str, url: str) -> str:
    """A stable, printable name for a target (``endpoint:3f2a…``): its kind and a hash of its URL."""
    return f"{kind}:{hashlib.sha256(url.encode()).hexdigest()[:16]}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A configured receiver (``webhooks.endpoints``)."""

    url: str
    secret: str
    events: frozenset[str]

    @property
    def name(self) -> str:
        """Its endpoint name."""
        return endpoint_name("endpoint", self.url)


@dataclass(frozen=True, slots=True)
class Callback:
    """A job's own ``callback_url`` and the secret that signs its events."""

    url: str
    secret_ref: str

    @classmethod
    def for_api_key(cls, url: str, key_name: str) -> Callback:
        """Signed with the secret of the API key that created the job."""
        return cls(url, API_KEY_REF + key_name)

    @classmethod
    def for_poll_video(cls, url: str) -> Callback:
        """Signed with ``webhooks.poll_video_secret``."""
        return cls(url, POLL_VIDEO_REF)


class WebhookPublisher:
    """Stores job events and video notices in the outbox for every target that wants them."""

    def __init__(
        self,
        outbox: WebhookOutbox,
        endpoints: Sequence[Endpoint] = (),
        *,
        discord_url: str | None = None,
        slack_url: str | None = None,
    ) -> None:
        self._outbox = outbox
        self._endpoints = tuple(endpoints)
        self._discord_url = discord_url
        self._slack_url = slack_url

    def wants(self, event_type: str) -> bool:
        """Whether a configured endpoint asks for ``event_type`` (a job's callback gets every event)."""
        return any(event_type in endpoint.events for endpoint in self._endpoints)

    @property
    def notifies(self) -> bool:
        """Whether Discord or Slack is configured."""
        return bool(self._discord_url or self._slack_url)

    async def job_event(
        self, event_type: str, job: dict[str, Any], callback: Callback | None = None, *, once_key: str | None = None
    ) -> list[str]:
        """Store ``event_type`` with the job JSON for each endpoint that asked for it and the callback; the ids.

        ``once_key`` (the job's id, say) makes the ids depend only on it, the type and the target, so reporting one
        moment twice (two processes, a retried call) stores each event once.
        """
        body = event_body(event_type, job)
        targets = [
            Target(endpoint.name, endpoint.url, ENDPOINT_REF + endpoint.name)
            for endpoint in self._endpoints
            if event_type in endpoint.events
        ]
        if callback is not None:
            targets.append(Target(endpoint_name("callback", callback.url), callback.url, callback.secret_ref))
        return await self._outbox.enqueue_many(
            [NewEvent(event_type, target, body, _event_id(once_key, event_type, target)) for target in targets]
        )

    async def video_notice(self, kind: NoticeKind, job: dict[str, Any], *, once_key: str | None = None) -> list[str]:
        """Store the Discord and Slack messages for a video ready or published (unsigned); the ids."""
        notice = VideoNotice.from_job(kind, job)
        event_type = f"notify.video_{kind.value}"
        events = []
        for target, body in (
            (Target(DISCORD, self._discord_url or ""), discord_message),
            (Target(SLACK, self._slack_url or ""), slack_message),
        ):
            if target.url:
                events.append(NewEvent(event_type, target, body(notice), _event_id(once_key, event_type, target)))
        return await self._outbox.enqueue_many(events)


def _event_id(once_key: str | None, event_type: str, target: Target) -> str:
    if once_key is None:
        return new_event_id()
    seed = f"{once_key}\n{event_type}\n{target.endpoint}".encode()
    return "msg_" + base64.urlsafe_b64encode(hashlib.sha256(seed).digest()[:16]).decode().rstrip("=")


class SecretBook:
    """Resolves a target's secret reference to its ``whsec_`` secret when the sender signs (a ``SecretLookup``)."""

    def __init__(
        self,
        endpoints: Iterable[Endpoint] = (),
        *,
        poll_video_secret: str | None = None,
        api_key_secret: Callable[[str], Awaitable[str | None]] | None = None,
    ) -> None:
        self._endpoints = {ENDPOINT_REF + endpoint.name: endpoint.secret for endpoint in endpoints}
        self._poll_video_secret = poll_video_secret
        self._api_key_secret = api_key_secret

    async def __call__(self, ref: str) -> str | None:
        """The secret, or None when it is gone (an endpoint removed from the config, a key revoked)."""
        if ref.startswith(ENDPOINT_REF):
            return self._endpoints.get(ref)
        if ref.startswith(API_KEY_REF) and self._api_key_secret is not None:
            return await self._api_key_secret(ref[len(API_KEY_REF) :])
        if ref == POLL_VIDEO_REF:
            return self._poll_video_secret
        return None
