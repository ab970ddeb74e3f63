"""Prompts become jobs: /start, /help, /video and plain text, and replies that extend a video."""

from __future__ import annotations

from typing import Any

import structlog
from telegram import Message, Update, User
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot import keyboards, preferences, texts
from bot.services import Services
from bot.validation import clean_prompt, prompt_problem
from poller.errors import JobError, TooManyActive
from poller.jobs import Job, JobOptions, new_job_id
from poller.ports import Session
from poller.worker import NEW_JOB
from providers.catalog import get_model

log = structlog.get_logger(__name__)


class GenerateHandlers:
    """Turns a user's words into a queued job and an instant acknowledgement."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach the handlers."""
        application.add_handler(CommandHandler("start", self.start))
        application.add_handler(CommandHandler("help", self.help))
        application.add_handler(CommandHandler("video", self.video))
        application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.text))

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Greet and explain in two lines."""
        if update.effective_message:
            await update.effective_message.reply_text(texts.START)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """How it works."""
        if update.effective_message:
            await update.effective_message.reply_text(texts.HELP)

    async def video(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/video <prompt>``."""
        message = update.effective_message
        if message and update.effective_user:
            await self._new_video(message, update.effective_user, " ".join(context.args or []), context)

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A plain message: a new video, or the continuation of one when it answers our Extend question."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.text is None:
            return
        parent_id = self._extension_parent(message, context.bot.id)
        if parent_id is not None:
            await self._extend(message, user, parent_id, message.text, context)
        else:
            await self._new_video(message, user, message.text, context)

    # ------------------------------------------------------------------ new videos

    async def _new_video(self, message: Message, user: User, prompt: str, context: ContextTypes.DEFAULT_TYPE) -> None:
        settings = self._s.settings
        problem = prompt_problem(prompt, settings.limits.max_prompt_chars)
        if problem:
            await message.reply_text(problem)
            return
        prefs = preferences.load(context.user_data, settings.defaults.model, settings.defaults.aspect_ratio)
        await self._start_job(message, user, clean_prompt(prompt), prefs.model, prefs.options(), prefs.as_strings())

    async def _extend(
        self, message: Message, user: User, parent_id: str, prompt: str, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        problem = prompt_problem(prompt, self._s.settings.limits.max_prompt_chars)
        if problem:
            await message.reply_text(problem)
            return
        parent = await self._s.jobs.get(parent_id)
        if parent.user_id != user.id:
            await message.reply_text(texts.NOT_YOURS)
            return
        await self._start_job(
            message,
            user,
            clean_prompt(prompt),
            parent.model,
            parent.options,
            {"extends": parent.id},
            parent_id=parent.id,
        )

    async def _start_job(
        self,
        message: Message,
        user: User,
        prompt: str,
        model: str,
        options: JobOptions,
        snapshot: dict[str, str],
        *,
        parent_id: str | None = None,
    ) -> None:
        try:
            info = get_model(model)
        except JobError:
            await message.reply_text(texts.UNKNOWN_MODEL)
            return
        job = Job(
            id=new_job_id(),
            user_id=user.id,
            chat_id=message.chat_id,
            model=info.id,
            prompt=prompt,
            options=options,
            provider=info.provider,
            parent_id=parent_id,
        )
        charged = await self._reserve_credits(message, job)
        if charged is None:
            return
        job = charged
        session = Session(
            chat_id=message.chat_id, user_id=user.id, language=user.language_code or "en", settings=snapshot
        )
        # Recorded before the reply, so a crash right after the reply cannot lose the job. The per-user limit is
        # checked in the same step: two prompts of one user at once (two bot processes) cannot both pass it.
        try:
            await self._s.jobs.create(job, session, max_active=self._s.settings.limits.max_active_jobs_per_user)
        except TooManyActive as refused:
            if job.billing_state == "reserved" and self._s.credits is not None:
                await self._s.credits.refund(user.id, job.id)
            await message.reply_text(texts.TOO_MANY_ACTIVE.format(count=refused.count))
            return
        ack = await message.reply_text(texts.GENERATING, reply_markup=keyboards.status(job.id))
        await self._s.sessions.set_status_message(job.id, ack.message_id)
        # Any poller (this process in `reelay run`) claims it; the pollers' scan is the safety net.
        await self._s.events.publish(NEW_JOB, job.id)
        log.info("job.created", job_id=job.id, user_id=user.id, model=job.model, parent_id=parent_id, cost=job.cost)

    async def _reserve_credits(self, message: Message, job: Job) -> Job | None:
        """Take the job's price from the user's balance, or say they are short; None when refused."""
        credits = self._s.credits
        if credits is None:
            return job
        price = self._s.settings.credits.price(job.model, job.options.duration_s)
        if price is None:
            await message.reply_text(texts.UNKNOWN_MODEL)
            return None
        reserved = await credits.reserve(job.user_id, job.id, price)
        if not reserved.ok:
            await message.reply_text(texts.out_of_credits(reserved.balance, price))
            return None
        return job.replace(cost=price, billing_state="reserved")

    @staticmethod
    def _extension_parent(message: Message, bot_id: int) -> str | None:
        """The video a reply continues: only a reply to our own Extend question counts."""
        question = message.reply_to_message
        if question is None or question.from_user is None or question.from_user.id != bot_id:
            return None
        return texts.extended_job_id(question.text)
