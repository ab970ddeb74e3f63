"""Photos become image-to-video jobs: a photo (or a JPEG, PNG or WebP sent as a file) with a caption starts one at
once; without a caption the bot asks for the description (ForceReply, as Extend does) and the reply starts it. An
album's first photo is the first frame and its second the last, on models that take one.

The handlers only check cheaply and create the job with the photo's Telegram file as its ``image_source``: the
engine fetches and stores it before the submit, so the acknowledgement is as instant as for text.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import structlog
from telegram import ForceReply, Message, Update, User
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot import preferences, texts
from bot.handlers.generate import preferred_request, refusal_text, start_job
from bot.photo_files import telegram_source
from bot.photo_intake import PhotoIntake, photo_of
from bot.services import Services
from bot.user_language import translator_of, translator_of_user
from poller.create_job import JobRequest, TakesNoPhoto
from storage.photo_drafts import PendingPhoto, PhotoRef

log = structlog.get_logger(__name__)


class _AnswersPhotoQuestion(filters.MessageFilter):
    """A text that replies to our own "describe the photo" question."""

    def filter(self, message: Message) -> bool:
        question = message.reply_to_message
        if question is None or question.from_user is None or not question.from_user.is_bot:
            return False
        return texts.photo_token(question.text) is not None


class PhotoHandlers:
    """Turns a user's photo into a queued image-to-video job (or a question for its description)."""

    def __init__(self, services: Services, intake: PhotoIntake) -> None:
        self._s = services
        self._intake = intake

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Attach the handlers (before the plain-text one, which would take the description for a new prompt)."""
        application.add_handler(MessageHandler(filters.PHOTO | filters.Document.ALL, self.photo))
        answers = filters.TEXT & ~filters.COMMAND & filters.REPLY & _AnswersPhotoQuestion()
        application.add_handler(MessageHandler(answers, self.description))

    async def photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo or a file: alone, or one of an album (whose first arrival, in any process, makes the job)."""
        message, user = update.effective_message, update.effective_user
        photo = photo_of(message) if message is not None else None
        if message is None or user is None or photo is None:
            return
        photos = [photo]
        if message.media_group_id is not None:
            if not await self._intake.albums.add(message.chat_id, message.media_group_id, photo):
                return  # another update of the album makes its job
            await asyncio.sleep(self._intake.album_wait_s)  # the album's other photos arrive meanwhile
            photos = await self._intake.albums.photos(message.chat_id, message.media_group_id) or photos
            log.info("photo.album_collected", user_id=user.id, photos=len(photos))
        await self._start(message, user, photos, context)

    async def description(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The reply to our question: the photos its sender left under the question's token start the video."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.text is None:
            return
        question = message.reply_to_message
        token = texts.photo_token(question.text if question else None)
        waiting = await self._intake.pending.take(user.id, token) if token else None
        if waiting is None or waiting.chat_id != message.chat_id:
            await message.reply_text(translator_of(update, context)(texts.PHOTO_GONE))
            return
        await self._create(message, user, message.text, waiting.file_ids, context)

    async def _start(
        self, message: Message, user: User, photos: list[PhotoRef], context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        model = preferences.load(
            context.user_data, self._s.catalog, self._s.settings.defaults.model, self._s.settings.defaults.aspect_ratio
        ).model
        tr = translator_of_user(user, context)
        frames = self._s.catalog.frames_taken(model)
        if frames == 0:  # the core refuses it too; said here before anything is read or asked
            log.info("photo.refused", user_id=user.id, reason="model takes no photo", model=model)
            await message.reply_text(refusal_text(tr, TakesNoPhoto(model), offered=self._s.catalog.offered()))
            return
        used = photos[:frames]
        for photo in used:
            problem = await self._intake.problem_text(tr, photo)
            if problem is not None:
                log.info("photo.refused", user_id=user.id, reason=problem)
                await message.reply_text(problem)
                return
        file_ids = tuple(photo.file_id for photo in used)
        caption = next((photo.caption for photo in photos if photo.caption.strip()), "")
        if caption:
            await self._create(message, user, caption, file_ids, context)
            return
        token = await self._intake.pending.put(user.id, PendingPhoto(message.chat_id, file_ids))
        log.info("photo.description_asked", user_id=user.id, photos=len(file_ids))
        markup = ForceReply(selective=True, input_field_placeholder=tr(texts.PHOTO_PLACEHOLDER))
        await message.reply_text(texts.photo_question(tr, token), reply_markup=markup)

    async def _create(
        self,
        message: Message,
        user: User,
        prompt: str,
        file_ids: tuple[str, ...],
        context: ContextTypes.DEFAULT_TYPE,
    ) -> None:
        await start_job(self._s, message, await self._request(message, user, prompt, file_ids, context))

    async def _request(
        self, message: Message, user: User, prompt: str, file_ids: tuple[str, ...], context: ContextTypes.DEFAULT_TYPE
    ) -> JobRequest:
        request = await preferred_request(self._s, message, user, prompt, context)
        sources = [telegram_source(file_id) for file_id in file_ids]
        last = sources[1] if len(sources) > 1 else None
        return replace(request, options=request.options.replace(image_source=sources[0], last_image_source=last))
