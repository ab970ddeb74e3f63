"""The cheap checks on a photo a user sent, before any job or paid call: Telegram's own figures (size, width,
height) first, and for a file sent as a document its first bytes (type by content, dimensions from the header).
The whole file is checked again on the engine's side before the submit (:mod:`poller.inputs`)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from telegram import Message

from bot import texts
from bot.i18n import Translator
from bot.photo_files import PhotoFiles, telegram_source
from poller.errors import JobError
from poller.images import (
    HEAD_BYTES,
    MIN_SHORT_SIDE_PX,
    ImageFacts,
    ImageProblem,
    NotAPhoto,
    TooLarge,
    TooSmall,
    Unreadable,
    check_facts,
    check_head,
)
from storage.photo_drafts import AlbumCollector, PendingPhotos, PhotoRef

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PhotoIntake:
    """What the photo handlers need: the file reader, the pending photos and albums in Redis, the size limit."""

    files: PhotoFiles
    pending: PendingPhotos
    albums: AlbumCollector
    max_bytes: int
    album_wait_s: float = 1.0  # how long the album's maker waits for its other photos to arrive

    async def problem_text(self, tr: Translator, photo: PhotoRef) -> str | None:
        """Why ``photo`` cannot start a video, in the user's words; None when it passes the cheap checks."""
        facts = ImageFacts(size=photo.size, width=photo.width, height=photo.height)
        problem = check_facts(facts, self.max_bytes)
        if problem is None and photo.document:
            try:
                head = await self.files.head(telegram_source(photo.file_id), self.max_bytes, HEAD_BYTES)
            except JobError as exc:
                log.info("photo.head_unread", error=exc.code, raw=exc.raw)
                return tr(texts.PHOTO_NOT_READ)
            _, problem = check_head(head, size=photo.size, max_bytes=self.max_bytes)
        return problem_words(tr, problem) if problem is not None else None


def problem_words(tr: Translator, problem: ImageProblem) -> str:
    """A photo problem in the user's words."""
    match problem:
        case NotAPhoto(what):
            return texts.not_a_photo(tr, what)
        case TooLarge(size, limit):
            return texts.photo_too_large(tr, size, limit)
        case TooSmall(width, height):
            return texts.photo_too_small(tr, width, height, MIN_SHORT_SIDE_PX)
        case Unreadable():
            return tr(texts.PHOTO_NOT_READ)


def photo_of(message: Message) -> PhotoRef | None:
    """The photo a message carries: its largest size, or a file sent as a document; None for anything else."""
    caption = message.caption or ""
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return PhotoRef(
            largest.file_id, message.message_id, largest.width, largest.height, largest.file_size, caption=caption
        )
    if message.document is not None:
        document = message.document
        return PhotoRef(document.file_id, message.message_id, size=document.file_size, document=True, caption=caption)
    return None
