"""What a person's photo or file becomes on the emulated Telegram: the stored file, and the sizes Telegram reports.

Telegram keeps a photo in several sizes, smallest first; the emulator keeps the person's own bytes as the largest
(real Telegram re-encodes it as JPEG) and adds a grey PNG thumbnail when the photo is larger than one, so a bot that
picks the wrong size gets other bytes. Dimensions come from the file's header.
"""

from __future__ import annotations

from poller.images import dimensions
from sandbox import images
from sandbox.telegram.files import FileStore
from sandbox.telegram.models import Document, PhotoSize

THUMBNAIL_SIDE = 90


def photo_sizes(files: FileStore, data: bytes) -> list[PhotoSize]:
    """Store a photo and its thumbnail; the sizes, smallest first. ValueError for bytes that are no photo."""
    found = dimensions(data)
    if found is None:
        raise ValueError("not a JPEG, PNG or WebP photo with readable dimensions (send it as a document)")
    width, height = found
    sizes: list[PhotoSize] = []
    if max(width, height) > THUMBNAIL_SIDE:
        scale = THUMBNAIL_SIDE / max(width, height)
        thumb_w, thumb_h = max(1, round(width * scale)), max(1, round(height * scale))
        sizes.append(_size(files, images.png(thumb_w, thumb_h), thumb_w, thumb_h))
    sizes.append(_size(files, data, width, height))
    return sizes


def document(files: FileStore, data: bytes, file_name: str | None, mime_type: str | None) -> Document:
    """Store a file sent as a document, with the name and type its sender's client claimed."""
    stored = files.add(data, kind="documents", mime_type=mime_type, file_name=file_name)
    return Document(stored.file_id, stored.file_unique_id, stored.size, mime_type, file_name)


def _size(files: FileStore, data: bytes, width: int, height: int) -> PhotoSize:
    stored = files.add(data, kind="photos", mime_type=None, file_name=None)
    return PhotoSize(stored.file_id, stored.file_unique_id, width, height, stored.size)
