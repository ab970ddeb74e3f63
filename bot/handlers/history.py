"""``/history``: the user's videos, five to a page, paged in place with « and »; each sent again by its Telegram
``file_id`` (no new upload). Only the owner's videos: a button's job is checked in Redis like Publish."""

from __future__ import annotations

from typing import Any

import structlog
from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot import texts
from bot.callback_data import Action
from bot.delivery_ref import DeliveryRef
from bot.handlers.presses import pressed
from bot.history import SCANNED_JOBS, page_of, videos
from bot.i18n import Translator
from bot.preferences import label_of
from bot.services import Services
from bot.user_language import translator_of
from poller.errors import JobNotFound
from poller.jobs import Job, JobStatus

log = structlog.get_logger(__name__)


class HistoryHandlers:
    """``/history`` and its buttons."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach the handlers."""
        application.add_handler(CommandHandler("history", self.history))
        application.add_handler(CallbackQueryHandler(self.on_press, pattern=r"^(his|again):"))

    async def history(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The newest page."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        tr = translator_of(update, context)
        page = page_of(tr, videos(await self._s.jobs.jobs_for_user(user.id, limit=SCANNED_JOBS)), 0)
        await message.reply_text(page.text, reply_markup=page.markup)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """« and » edit the message in place; ▶ sends that video again."""
        press = await pressed(update, context, (Action.HISTORY, Action.RESEND))
        if press is None:
            return
        query, data, tr = press.query, press.data, press.tr
        if data.action is Action.HISTORY:
            await self._turn(tr, query, int(data.arg))
        else:
            await self._send_again(tr, query, data.arg)

    async def _turn(self, tr: Translator, query: CallbackQuery, page_number: int) -> None:
        # The pages are the presser's own videos, whoever's message the buttons sit under.
        found = videos(await self._s.jobs.jobs_for_user(query.from_user.id, limit=SCANNED_JOBS))
        page = page_of(tr, found, page_number)
        await query.answer()
        if isinstance(query.message, Message):
            try:
                await query.edit_message_text(page.text, reply_markup=page.markup)
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    raise

    async def _send_again(self, tr: Translator, query: CallbackQuery, job_id: str) -> None:
        try:
            job = await self._s.jobs.get(job_id)
        except JobNotFound:
            await query.answer(tr(texts.HISTORY_GONE), show_alert=True)
            return
        if job.user_id != query.from_user.id:
            log.warning("button.not_owner", job_id=job.id, presser_id=query.from_user.id)
            await query.answer(tr(texts.NOT_YOURS), show_alert=True)
            return
        await query.answer()
        await _resend(tr, query, job)


async def _resend(tr: Translator, query: CallbackQuery, job: Job) -> None:
    """By ``file_id`` when Telegram has the video; as its link when it went out as one; else no longer available."""
    ref = DeliveryRef.decode(job.delivered_ref) if job.delivered_ref else None
    caption = texts.caption(tr, label_of(job.model), job.output.duration_s if job.output else None)
    chat_id = query.from_user.id
    bot = query.get_bot()
    if job.status is JobStatus.SUCCEEDED and ref is not None and ref.file_id:
        await bot.send_video(chat_id=chat_id, video=ref.file_id, caption=caption)
        log.info("history.resent", job_id=job.id)
    elif job.status is JobStatus.SUCCEEDED and job.output is not None and job.output.url:
        await bot.send_message(chat_id=chat_id, text=tr(texts.HISTORY_LINK, url=job.output.url))
    else:
        await bot.send_message(chat_id=chat_id, text=tr(texts.HISTORY_GONE))
