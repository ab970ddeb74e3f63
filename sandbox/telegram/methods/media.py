"""Videos and documents: upload (multipart, file_id or URL), send, and getFile for downloads."""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

import httpx
import structlog

from sandbox.telegram.errors import (
    FILE_TOO_BIG,
    URL_CONTENT_FAILED,
    WRONG_FILE_ID,
    bad_request,
    entity_too_large,
)
from sandbox.telegram.files import FileKind, StoredFile, probe_video
from sandbox.telegram.markup import caption_text, validate_reply_markup
from sandbox.telegram.methods.base import Call, method, reply_target
from sandbox.telegram.models import JSON, Document, Message, Video

log = structlog.get_logger(__name__)
_URL_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@method("sendVideo")
async def send_video(call: Call) -> JSON:
    """Post a video with optional caption and keyboard."""
    p = call.params
    chat = call.chat()
    caption = caption_text(p.text("caption"), p.text("parse_mode"))
    markup = validate_reply_markup(p.get("reply_markup"))
    reply_to = reply_target(call, chat)
    stored = await _obtain(call, "video", "videos", default_mime="video/mp4")
    width, height, duration = await _video_sizes(call, stored)
    video = Video(
        stored.file_id,
        stored.file_unique_id,
        width,
        height,
        duration,
        stored.size,
        stored.mime_type,
        stored.file_name,
    )
    message = Message(caption=caption, video=video, reply_markup=markup, reply_to_message_id=reply_to)
    return call.world.render(call.world.post(call.bot, chat, message))


@method("sendDocument")
async def send_document(call: Call) -> JSON:
    """Post a general file."""
    p = call.params
    chat = call.chat()
    caption = caption_text(p.text("caption"), p.text("parse_mode"))
    markup = validate_reply_markup(p.get("reply_markup"))
    reply_to = reply_target(call, chat)
    stored = await _obtain(call, "document", "documents", default_mime="application/octet-stream")
    document = Document(stored.file_id, stored.file_unique_id, stored.size, stored.mime_type, stored.file_name)
    message = Message(caption=caption, document=document, reply_markup=markup, reply_to_message_id=reply_to)
    return call.world.render(call.world.post(call.bot, chat, message))


@method("getFile")
async def get_file(call: Call) -> JSON:
    """Where to download a file; bots may only download files up to 20 MB."""
    file_id = call.params.text("file_id") or ""
    stored = call.emulator.files.get(file_id)
    if stored is None:
        raise bad_request("wrong file_id or the file is temporarily unavailable")
    if stored.size > call.emulator.max_download_bytes:
        raise bad_request(FILE_TOO_BIG)
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "file_path": stored.file_path,
    }


async def _obtain(call: Call, field: str, kind: FileKind, *, default_mime: str) -> StoredFile:
    """The file a send refers to: a fresh upload, an http(s) URL to fetch, or a known file_id."""
    files = call.emulator.files
    upload = call.params.upload(field)
    if upload is not None:
        if len(upload.data) > call.emulator.max_upload_bytes:
            raise entity_too_large()
        mime = upload.content_type if upload.content_type not in (None, "application/octet-stream") else None
        return files.add(upload.data, kind=kind, mime_type=mime or default_mime, file_name=upload.filename)
    reference = call.params.text(field)
    if not reference:
        raise bad_request(f"there is no {field} in the request")
    if reference.startswith(("http://", "https://")):
        data, mime = await _fetch(reference, call.emulator.max_url_bytes)
        name = urlparse(reference).path.rsplit("/", 1)[-1] or None
        return files.add(data, kind=kind, mime_type=mime or default_mime, file_name=name)
    stored = files.get(reference)
    if stored is None:
        raise bad_request(WRONG_FILE_ID)
    return stored


async def _fetch(url: str, limit: int) -> tuple[bytes, str | None]:
    """Download a URL the way Telegram's servers do: 2xx only, at most ``limit`` bytes."""
    chunks: list[bytes] = []
    total = 0
    try:
        async with (
            httpx.AsyncClient(timeout=_URL_TIMEOUT, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            if not response.is_success:
                raise bad_request(URL_CONTENT_FAILED)
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > limit:
                    raise bad_request(URL_CONTENT_FAILED)
                chunks.append(chunk)
            mime = response.headers.get("content-type", "").split(";")[0].strip() or None
    except httpx.HTTPError as exc:
        log.info("telegram emulator could not fetch a URL upload", error=type(exc).__name__)
        raise bad_request(URL_CONTENT_FAILED) from None
    return b"".join(chunks), mime


async def _video_sizes(call: Call, stored: StoredFile) -> tuple[int, int, int]:
    """Declared sizes win; then what this file was first sent with; then a probe of the bytes."""
    names = ("width", "height", "duration")
    declared = [call.params.integer(name) for name in names]
    info = stored.info
    if not info:
        if None in declared:
            probed = await asyncio.to_thread(probe_video, stored.data)
            info.update(zip(names, probed or (0, 0, 0), strict=True))
        else:
            info.update(zip(names, (value or 0 for value in declared), strict=True))
    width, height, duration = (
        value if value is not None else info.get(name, 0) for name, value in zip(names, declared, strict=True)
    )
    return width, height, duration
