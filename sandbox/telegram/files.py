"""Uploaded files kept in memory under generated file ids, and best-effort probing of video sizes."""

from __future__ import annotations

import io
import itertools
import mimetypes
import secrets
import threading
from dataclasses import dataclass, field
from typing import Literal

import structlog

log = structlog.get_logger(__name__)

FileKind = Literal["videos", "documents", "photos"]
_ID_PREFIX: dict[FileKind, str] = {
    "videos": "BAACAgIAAxkBAAI",
    "documents": "BQACAgIAAxkBAAI",
    "photos": "AgACAgIAAxkBAAI",
}


@dataclass(frozen=True)
class StoredFile:
    """Bytes a bot uploaded, addressable by ``file_id`` (sending) and ``file_path`` (downloading)."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    mime_type: str | None
    file_name: str | None
    # Video width/height/duration as first declared or probed, reused when the file_id is sent again.
    info: dict[str, int] = field(default_factory=dict, compare=False)

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)


class FileStore:
    """Thread-safe in-memory file storage (test and sandbox videos are small)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._counter = itertools.count()

    def add(self, data: bytes, *, kind: FileKind, mime_type: str | None, file_name: str | None) -> StoredFile:
        """Store bytes under a fresh file id and path."""
        suffix = _suffix(file_name, mime_type, kind)
        with self._lock:
            stored = StoredFile(
                file_id=_ID_PREFIX[kind] + secrets.token_urlsafe(24),
                file_unique_id="AgAD" + secrets.token_urlsafe(8),
                file_path=f"{kind}/file_{next(self._counter)}{suffix}",
                data=data,
                mime_type=mime_type,
                file_name=file_name,
            )
            self._by_id[stored.file_id] = stored
            self._by_path[stored.file_path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """The file with this id, if any."""
        with self._lock:
            return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        """The file served at this download path, if any."""
        with self._lock:
            return self._by_path.get(file_path)

    def clear(self) -> None:
        """Forget every file."""
        with self._lock:
            self._by_id.clear()
            self._by_path.clear()


def probe_video(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, whole seconds) of a video, or ``None`` when PyAV cannot read it."""
    import av  # local: only needed when a sender omits the sizes

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            seconds = float(container.duration) / av.time_base if container.duration else 0.0
            return int(stream.width), int(stream.height), round(seconds)
    except (av.FFmpegError, IndexError, ValueError) as exc:
        log.debug("video probe failed", error=str(exc))
        return None


def _suffix(file_name: str | None, mime_type: str | None, kind: FileKind) -> str:
    if file_name and "." in file_name:
        return "." + file_name.rsplit(".", 1)[1].lower()
    guessed = mimetypes.guess_extension(mime_type) if mime_type else None
    return guessed or {"videos": ".mp4", "photos": ".jpg"}.get(kind, "")
