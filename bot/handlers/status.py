"""/status lists the user's recent videos; /cancel stops the one in progress."""

from __future__ import annotations

import time
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import texts
from bot.services import Services
from bot.user_language import translator_of
from poller.control import AlreadyFinished, cancel_job
from poller.errors import InvalidTransition, JobError, JobNotFound
from poller.jobs import ACTIVE_STATES, JobStatus
from providers.catalog import get_model


class StatusHandlers:
    """Read-mostly commands about the user's own jobs."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach the handlers."""
        application.add_handler(CommandHandler("status", self.status))
        application.add_handler(CommandHandler("cancel", self.cancel))

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The user's most recent jobs, newest first."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        tr = translator_of(update, context)
        jobs = await self._s.jobs.jobs_for_user(user.id, limit=10)
        if not jobs:
            await message.reply_text(tr(texts.NO_JOBS))
            return
        now = time.time()
        lines = [texts.status_line(tr, job.id, _label(job.model), job.status, now - job.created_at) for job in jobs]
        await message.reply_text("\n".join(lines))

    async def cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/cancel`` (the newest active job) or ``/cancel <id>``."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        tr = translator_of(update, context)
        target = context.args[0] if context.args else None
        jobs = await self._s.jobs.jobs_for_user(user.id, limit=20)
        candidates = [j for j in jobs if j.status in ACTIVE_STATES and (target is None or j.id == target)]
        if not candidates:
            await message.reply_text(tr(texts.NOTHING_TO_CANCEL))
            return
        job = candidates[0]
        try:
            await cancel_job(
                job.id, jobs=self._s.jobs, finisher=self._s.finisher, events=self._s.events, providers=self._s.providers
            )
        except AlreadyFinished:
            await message.reply_text(tr(texts.ALREADY_FINISHED))
            return
        except (InvalidTransition, JobNotFound):
            delivering = job.status is JobStatus.DELIVERING
            await message.reply_text(tr(texts.CANNOT_CANCEL if delivering else texts.NOTHING_TO_CANCEL))
            return
        await message.reply_text(tr(texts.CANCELLED))


def _label(model: str) -> str:
    try:
        return get_model(model).label
    except JobError:
        return model
