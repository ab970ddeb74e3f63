"""The engine's ``Notifier`` port, on Telegram: status edits, the preview with its buttons, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import structlog
from aiolimiter import AsyncLimiter
from telegram import Bot, InlineKeyboardMarkup, InputFile, Message
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError, TimedOut
from telegram.ext import ExtBot

from bot import keyboards, texts
from bot.delivery_ref import DeliveryRef
from bot.i18n import translator
from bot.rate_limit import Lane, PriorityBudget, PriorityRateLimiter
from bot.status_edits import StatusEdit, StatusEdits
from bot.upgrades import fresh_preview
from poller.errors import ErrorCode, JobError
from poller.jobs import NO_CHAT, Job, JobStatus
from poller.ports import LocalVideo, Session
from providers.catalog import get_model, known_model

log = structlog.get_logger(__name__)

# What a delivery to no chat records as its reference (a Telegram reference is "chat:message:file").
NO_CHAT_REF = "none"

# Uploads of tens of MB need far more than PTB's default 20 s write timeout.
_UPLOAD_TIMEOUT_S = 600.0


class TelegramNotifier:
    """Talks to the user through the bot; every method is safe to retry.

    Deliveries go through ``send_bot``, a bot without python-telegram-bot's rate limiter, behind our own
    limiters: the wait for a free slot then happens *before* the send is committed in Redis, so the
    window in which a crash leaves a delivery's outcome unknown is the request itself, not the queue.

    Status edits never hold up the engine: they are queued (:class:`bot.status_edits.StatusEdits`) and
    sent by ``status_senders`` background tasks. When ``bot`` runs on a
    :class:`bot.rate_limit.PriorityRateLimiter`, everything shares its budget by lane: acks and other
    replies first, then deliveries and failure notices, then status edits (a delivery takes its turn
    before the commit, so ``send_bot`` must have no limiter of its own). Otherwise deliveries keep a
    budget of their own (``sends_per_s``).
    """

    def __init__(
        self,
        bot: Bot,
        *,
        upload_limit_bytes: int,
        link_ttl_s: int,
        send_bot: Bot | None = None,
        sends_per_s: float = 20.0,
        sends_in_flight: int = 1,
        status_senders: int = 4,
        offer_upgrades: bool = False,
    ) -> None:
        self._bot = bot
        self._offer_upgrades = offer_upgrades  # 1080p and 4K buttons under Veo videos (providers.kie.offer_upgrades)
        self._send_bot = send_bot or bot
        self._upload_limit = upload_limit_bytes
        self._link_ttl_s = link_ttl_s
        limiter = bot.rate_limiter if isinstance(bot, ExtBot) else None
        # The bot-wide budget shared by lane, when the bot has one; else deliveries keep their own.
        self._budget: PriorityBudget | None = limiter.budget if isinstance(limiter, PriorityRateLimiter) else None
        # Telegram allows about 30 messages/s per bot and 1/s per chat (bursts tolerated); the overall
        # limiter is for a bot without lanes.
        self._overall = AsyncLimiter(sends_per_s, 1)
        self._per_chat: dict[int, AsyncLimiter] = {}
        # No more sends in flight than the send bot's connection pool: a committed send must never wait
        # for a connection, or the crash window would include that wait.
        self._in_flight = asyncio.Semaphore(sends_in_flight)
        # Without lanes the senders still bound how many edits queue in the limiter ahead of an ack.
        self.status_edits = StatusEdits(self._send_status_edit, senders=status_senders)

    async def job_progress(self, job: Job, session: Session) -> None:
        """Queue the edit of the status message to the job's new state (called only on a change of state)."""
        if session.chat_id == NO_CHAT:
            return
        tr = translator(session.language)  # the job owner's, whichever process sends it
        markup = keyboards.status(tr, job.id) if not job.status.terminal else None
        text = texts.status_message(tr, job.status)
        if job.queue_position is not None and job.status is JobStatus.RUNNING:
            text += "\n" + texts.queue_place(tr, job.queue_position)
        if job.requested_model is not None and job.refused_submits:
            first = job.refused_submits[0]
            text += "\n" + texts.failed_over(tr, _label(first.model), first.provider, _label(job.model))
        self._edit_status(session, text, markup)

    async def deliver(
        self,
        job: Job,
        session: Session,
        video: LocalVideo,
        *,
        commit: Callable[[], Awaitable[bool]] | None = None,
        link_only: bool = False,
    ) -> str | None:
        """Send the preview: the video itself when it fits Telegram's limit, otherwise its link.

        A job without a chat (the job API's) is delivered by the blob store alone: nothing is sent, and the
        reference says so (the send is still claimed, so the delivery records its result like any other)."""
        if session.chat_id == NO_CHAT:
            if commit is not None and not await commit():
                return None
            log.info("job.delivered", as_link=True, chat=False)
            return NO_CHAT_REF
        tr = translator(session.language)
        label = texts.video_label(tr, get_model(job.model).label, job.kind)
        caption = texts.caption(tr, label, video.output.duration_s, job.elapsed_s(), late=job.late)
        markup = fresh_preview(tr, job, offer_upgrades=self._offer_upgrades)
        as_video = not link_only and video.output.size_bytes <= self._upload_limit
        # PTB holds an upload in memory either way (up to the upload limit); read it off the event loop.
        upload = (
            InputFile(await asyncio.to_thread(video.path.read_bytes), filename=video.path.name) if as_video else None
        )
        try:
            async with self._in_flight, self._delivery_slot(), self._chat_limiter(session.chat_id):
                if commit is not None and not await commit():
                    return None
                if upload is not None:
                    message = await self._send_video(session.chat_id, upload, video, caption, markup)
                else:
                    text = texts.video_link(tr, video.output.url, self._link_ttl_s, caption, interrupted=link_only)
                    message = await self._send_bot.send_message(session.chat_id, text, reply_markup=markup)
        except TelegramError as exc:
            raise _delivery_error(exc) from exc
        file_id = message.video.file_id if message.video else ""
        self._edit_status(session, texts.status_message(tr, JobStatus.SUCCEEDED), None)
        log.info("job.delivered", chat_id=session.chat_id, message_id=message.message_id, as_link=not file_id)
        return DeliveryRef(session.chat_id, message.message_id, file_id).encode()

    def _delivery_slot(self) -> AbstractAsyncContextManager[object]:
        """A turn in the bot-wide budget for one delivery (behind acks, ahead of status edits)."""
        return self._overall if self._budget is None else _acquired(self._budget, Lane.DELIVERY)

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._per_chat.get(chat_id)
        if limiter is None:
            if len(self._per_chat) > 10_000:
                self._per_chat.clear()  # idle limiters hold no state worth keeping
            limiter = self._per_chat[chat_id] = AsyncLimiter(1, 1)
        return limiter

    async def job_ended(self, job: Job, session: Session) -> None:
        """Say once that the job failed or was cancelled; the status message loses its Cancel button."""
        if session.chat_id == NO_CHAT:
            return
        tr = translator(session.language)
        if job.status is JobStatus.CANCELLED:
            self._edit_status(session, tr(texts.CANCELLED), None)
            return
        message = texts.ended_message(tr, job.error_code, job.error_raw)
        self._edit_status(session, message, None)
        await self._bot.send_message(session.chat_id, message, **self._lane(Lane.DELIVERY))

    async def aclose(self) -> None:
        """Stop sending status edits (those still waiting are dropped: they are cosmetic)."""
        await self.status_edits.aclose()

    async def _send_video(
        self, chat_id: int, upload: InputFile, video: LocalVideo, caption: str, markup: InlineKeyboardMarkup
    ) -> Message:
        out = video.output
        return await self._send_bot.send_video(
            chat_id,
            video=upload,
            caption=caption,
            reply_markup=markup,
            duration=round(out.duration_s) if out.duration_s else None,
            width=out.width,
            height=out.height,
            supports_streaming=True,
            write_timeout=_UPLOAD_TIMEOUT_S,
            read_timeout=_UPLOAD_TIMEOUT_S,
        )

    def _edit_status(self, session: Session, text: str, markup: InlineKeyboardMarkup | None) -> None:
        if session.status_message_id is not None:
            self.status_edits.put(StatusEdit(session.chat_id, session.status_message_id, text, markup))

    async def _send_status_edit(self, edit: StatusEdit) -> None:
        try:
            await self._bot.edit_message_text(
                edit.text,
                chat_id=edit.chat_id,
                message_id=edit.message_id,
                reply_markup=edit.markup,
                **self._lane(Lane.STATUS),
            )
        except BadRequest as exc:
            # "message is not modified" (a repeated step) or the user deleted it: neither matters.
            log.info("status_edit.skipped", reason=str(exc))

    def _lane(self, lane: Lane) -> dict[str, Any]:
        """The request's lane for the bot's PriorityRateLimiter; nothing for any other limiter."""
        return {"rate_limit_args": lane} if self._budget is not None else {}


@asynccontextmanager
async def _acquired(budget: PriorityBudget, lane: Lane) -> AsyncIterator[None]:
    await budget.acquire(lane)
    yield


def _delivery_error(exc: TelegramError) -> JobError:
    """Map Telegram's answer onto the taxonomy, saying whether the message may have arrived."""
    if isinstance(exc, RetryAfter):
        retry_after = exc.retry_after
        seconds = retry_after if isinstance(retry_after, int | float) else retry_after.total_seconds()
        return JobError(ErrorCode.DELIVERY_FAILED, "telegram flood control", retry_after=seconds)
    if isinstance(exc, BadRequest | Forbidden):
        return JobError(ErrorCode.DELIVERY_FAILED, f"telegram refused: {exc.message}")
    # A timeout or dropped connection after the upload started: Telegram may have posted it.
    return JobError(ErrorCode.DELIVERY_FAILED, f"telegram: {exc.message}", outcome_unknown=isinstance(exc, TimedOut))


def _label(model_id: str) -> str:
    model = known_model(model_id)
    return model.label if model is not None else model_id
