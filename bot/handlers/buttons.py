"""The buttons on a job's messages: Publish, Extend, 1080p and 4K, Cancel (and the inert "done" mark)."""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from telegram import CallbackQuery, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot import keyboards, texts
from bot.callback_data import Action
from bot.delivery_ref import DeliveryRef
from bot.handlers.presses import pressed
from bot.handlers.upgrades import UpgradePress
from bot.i18n import Translator
from bot.services import Services
from bot.upgrades import current_preview, extendable
from poller.control import AlreadyFinished, cancel_job
from poller.errors import InvalidTransition, JobNotFound
from poller.jobs import Job, JobStatus, TaskKind
from providers.catalog import get_model

log = structlog.get_logger(__name__)

PUBLISH_EFFECT = "publish"
_UPGRADES = {Action.UPGRADE_1080P: TaskKind.UPSCALE_1080P, Action.UPGRADE_4K: TaskKind.UPSCALE_4K}
_JOB_ACTIONS = frozenset({Action.PUBLISH, Action.EXTEND, Action.CANCEL, Action.NOOP, *_UPGRADES})


class ButtonHandlers:
    """Every press is checked: data we produced, a job that exists, pressed by its owner."""

    def __init__(self, services: Services) -> None:
        self._s = services
        self._upgrades = UpgradePress(services)

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach the handler for job buttons (settings buttons have their own)."""
        application.add_handler(CallbackQueryHandler(self.on_press, pattern=r"^(pub|ext|u1080|u4k|can|noop)(:|$)"))

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Route a press to its action after the checks."""
        press = await pressed(update, context, _JOB_ACTIONS)
        if press is None:
            return
        query, data, tr = press.query, press.data, press.tr
        if data.action is Action.NOOP:
            await query.answer()
            return
        try:
            job = await self._s.jobs.get(data.arg)
        except JobNotFound:
            await query.answer(tr(texts.BUTTON_EXPIRED))
            return
        if job.user_id != query.from_user.id:
            log.warning("button.not_owner", job_id=job.id, presser_id=query.from_user.id)
            await query.answer(tr(texts.NOT_YOURS), show_alert=True)
            return
        if data.action is Action.PUBLISH:
            await self._publish(tr, query, job, context)
        elif data.action is Action.EXTEND:
            await self._ask_extension(tr, query, job, context)
        elif data.action in _UPGRADES:
            await self._upgrades.press(tr, query, job, _UPGRADES[data.action], context)
        elif data.action is Action.CANCEL:
            await self._cancel(tr, query, job)

    async def _publish(
        self, tr: Translator, query: CallbackQuery, job: Job, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        channel = self._s.settings.telegram.publish_channel_id
        if channel is None:
            await query.answer(tr(texts.PUBLISH_UNAVAILABLE), show_alert=True)
            return
        if job.status is not JobStatus.SUCCEEDED or not job.delivered_ref:
            await query.answer(tr(texts.NOT_READY))
            return
        if job.published or not await self._s.jobs.claim(job.id, PUBLISH_EFFECT):
            await query.answer(tr(texts.PUBLISH_ALREADY))
            await self._mark_published(tr, query, job)
            return
        ref = DeliveryRef.decode(job.delivered_ref)
        label = texts.video_label(tr, get_model(job.model).label, job.kind)
        caption = texts.caption(tr, label, job.output.duration_s if job.output else None)
        try:
            if ref.file_id:
                # Reuse the preview's file_id: Telegram serves the same file, no second upload.
                await context.bot.send_video(channel, video=ref.file_id, caption=caption)
            else:
                await context.bot.copy_message(channel, from_chat_id=ref.chat_id, message_id=ref.message_id)
        except TelegramError as exc:
            await self._s.jobs.release(job.id, PUBLISH_EFFECT)
            log.warning("publish.failed", job_id=job.id, error=str(exc))
            await query.answer(tr(texts.PUBLISH_FAILED), show_alert=True)
            return
        await self._s.jobs.update_fields(job.id, {"published": "1"})
        log.info("job.published", job_id=job.id, channel=str(channel))
        await self._s.listeners.job_published(job)  # once: only the press that claimed the publish gets here
        await query.answer(tr(texts.PUBLISH_DONE))
        await self._mark_published(tr, query, job)

    async def _mark_published(self, tr: Translator, query: CallbackQuery, job: Job) -> None:
        offer = self._s.settings.providers.kie.offer_upgrades
        markup = await current_preview(tr, self._s.jobs, job, offer_upgrades=offer, published=True)
        with contextlib.suppress(TelegramError):  # already marked ("message is not modified")
            await query.edit_message_reply_markup(markup)

    async def _ask_extension(
        self, tr: Translator, query: CallbackQuery, job: Job, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        if not extendable(job):
            await query.answer(tr(texts.EXTEND_NOT_SUPPORTED), show_alert=True)
            return
        if job.status is not JobStatus.SUCCEEDED:
            await query.answer(tr(texts.NOT_READY))
            return
        await query.answer()
        chat_id = query.message.chat.id if query.message else job.chat_id
        # The question names the video, so the reply needs no state stored in between (a reply typed at
        # once can reach another update, or another bot process, before any state would be saved).
        await context.bot.send_message(
            chat_id, texts.extend_question(tr, job.id), reply_markup=keyboards.extend_prompt(tr)
        )

    async def _cancel(self, tr: Translator, query: CallbackQuery, job: Job) -> None:
        try:
            await cancel_job(
                job.id, jobs=self._s.jobs, finisher=self._s.finisher, events=self._s.events, providers=self._s.providers
            )
        except AlreadyFinished:
            await query.answer(tr(texts.ALREADY_FINISHED))
            return
        except InvalidTransition:
            text = tr(texts.CANNOT_CANCEL if job.status is JobStatus.DELIVERING else texts.BUTTON_EXPIRED)
            await query.answer(text)
            return
        await query.answer(tr(texts.CANCELLED))  # the engine's notifier has edited the status message
