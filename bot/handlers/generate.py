"""Prompts become jobs: /start, /help, /video and plain text, and replies that extend a video.

The rules (cheap checks, model, price, credits, limits, storing, announcing) are the core's
(:class:`poller.create_job.JobCreator`); these handlers turn a message into a request and the outcome
into the user's words.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, assert_never

from telegram import Message, Update, User
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot import keyboards, preferences, texts
from bot.handlers.settings import withdrawn_note
from bot.i18n import Translator, translator
from bot.services import Services
from bot.user_language import translator_of, user_language
from bot.validation import problem_text
from poller.create_job import (
    BadPrompt,
    Created,
    DailyLimitReached,
    JobRequest,
    ModelNotOffered,
    NotStored,
    OutOfCredits,
    ParentGone,
    Refusal,
    TakesNoPhoto,
    TooManyInProgress,
    UnknownModel,
    VideoNotYours,
)
from poller.jobs import Job
from providers.catalog import ModelInfo


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
            await update.effective_message.reply_text(translator_of(update, context)(texts.START))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """How it works."""
        if update.effective_message:
            await update.effective_message.reply_text(translator_of(update, context)(texts.HELP))

    async def video(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/video <prompt>``."""
        message, user = update.effective_message, update.effective_user
        if message and user:
            await self._new_video(message, user, " ".join(context.args or []), context)

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A plain message: a new video, or the continuation of one when it answers our Extend question."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.text is None:
            return
        parent_id = self._extension_parent(message, context.bot.id)
        if parent_id is not None:
            request = self._request(message, user, message.text, context, extends=parent_id)
            await start_job(self._s, message, request)
        else:
            await self._new_video(message, user, message.text, context)

    async def _new_video(self, message: Message, user: User, prompt: str, context: ContextTypes.DEFAULT_TYPE) -> None:
        await start_job(self._s, message, await preferred_request(self._s, message, user, prompt, context))

    @staticmethod
    def _request(
        message: Message, user: User, prompt: str, context: ContextTypes.DEFAULT_TYPE, *, extends: str | None = None
    ) -> JobRequest:
        # The job keeps the user's language: its statuses and delivery speak it, whichever process sends them.
        language = user_language(user, context)
        return JobRequest(user_id=user.id, chat_id=message.chat_id, prompt=prompt, extends=extends, language=language)

    @staticmethod
    def _extension_parent(message: Message, bot_id: int) -> str | None:
        """The video a reply continues: only a reply to our own Extend question counts."""
        question = message.reply_to_message
        if question is None or question.from_user is None or question.from_user.id != bot_id:
            return None
        return texts.extended_job_id(question.text)


async def preferred_request(
    services: Services, message: Message, user: User, prompt: str, context: ContextTypes.DEFAULT_TYPE
) -> JobRequest:
    """A new video's request with the user's saved choices (model, ratio, duration); says once, first, when their
    saved model was withdrawn."""
    defaults = services.settings.defaults
    prefs = preferences.load(context.user_data, services.catalog, defaults.model, defaults.aspect_ratio)
    request = GenerateHandlers._request(message, user, prompt, context)
    if prefs.withdrawn is not None:
        if context.user_data is not None:
            preferences.save(context.user_data, prefs)  # repaired for good: the note is shown once
        await message.reply_text(withdrawn_note(translator(request.language), prefs))
    return replace(
        request,
        model=prefs.model,
        options=prefs.options(),
        settings=prefs.as_strings(),
    )


async def start_job(services: Services, message: Message, request: JobRequest) -> None:
    """Create the job through the core; acknowledge it at once, or answer why not."""

    tr = translator(request.language)

    async def acknowledge(job: Job) -> int:
        ack = await message.reply_text(tr(texts.GENERATING), reply_markup=keyboards.status(tr, job.id))
        return ack.message_id

    outcome = await services.creator.create(request, acknowledge)
    if not isinstance(outcome, Created):
        # Out of credits, where credits are sold: the answer carries the way to more.
        sold = services.purchases is not None and bool(services.purchases.packs)
        markup = keyboards.buy(tr) if isinstance(outcome, OutOfCredits) and sold else None
        await message.reply_text(refusal_text(tr, outcome, offered=services.catalog.offered()), reply_markup=markup)


def refusal_text(tr: Translator, refusal: Refusal, now: float | None = None, offered: Sequence[ModelInfo] = ()) -> str:
    """Why no video was started, in the user's words (``offered``: the models a user may pick instead)."""
    match refusal:
        case BadPrompt(problem):
            return problem_text(tr, problem)
        case ParentGone():
            return tr(texts.VIDEO_GONE)
        case VideoNotYours():
            return tr(texts.NOT_YOURS)
        case UnknownModel():
            return tr(texts.UNKNOWN_MODEL)
        case ModelNotOffered(model):
            names = ", ".join(info.label for info in offered)
            return tr(texts.MODEL_NOT_OFFERED, model=preferences.label_of(model), offered=names)
        case TakesNoPhoto(model):
            takers = ", ".join(info.label for info in offered if info.accepts_image)
            label = preferences.label_of(model)
            return (
                tr(texts.TAKES_NO_PHOTO, model=label, models=takers)
                if takers
                else tr(texts.NO_PHOTO_MODELS, model=label)
            )
        case OutOfCredits(balance, price):
            return texts.out_of_credits(tr, balance, price)
        case TooManyInProgress(count):
            return tr.plural(texts.TOO_MANY_ACTIVE, count, count=count)
        case DailyLimitReached(limit, resets_at):
            return texts.daily_limit(tr, limit, resets_at - (time.time() if now is None else now))
        case NotStored():
            return tr(texts.NOT_STARTED)
        case _:
            assert_never(refusal)
