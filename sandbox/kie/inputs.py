"""Image inputs in the simulated KIE: the file upload API (base64 and multipart stream, as documented) with the
uploaded files served back, and the fetch of every image URL a create request names, as KIE fetches them.

Each fetched image is recorded (URL -> bytes), so an end-to-end test can compare what "KIE" got with the photo the
user sent. A URL that cannot be fetched, or that serves something other than a JPEG, PNG or WebP, refuses the create.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from poller.images import sniff
from sandbox.kie.validation import Invalid

MAX_IMAGE_BYTES = 30 * 1024 * 1024  # KIE's documented ceiling for image inputs is lower; this only bounds memory
FETCH_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Uploaded:
    """A file uploaded through the upload API."""

    name: str
    data: bytes
    mime_type: str
    upload_path: str


class InputBook:
    """Uploads and fetched images, behind one lock (the server and the tests run in different threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every upload and fetch."""
        with self._lock:
            self._uploads: dict[str, Uploaded] = {}
            self._fetched: dict[str, bytes] = {}
            self.upload_calls = 0

    def add_upload(self, upload: Uploaded) -> str:
        """Keep an upload under a fresh token; the same file name overwrites (as KIE says); returns the token."""
        with self._lock:
            self.upload_calls += 1
            token = secrets.token_urlsafe(12)
            self._uploads[token] = upload
            return token

    def upload(self, token: str) -> Uploaded | None:
        """An uploaded file by its token."""
        with self._lock:
            return self._uploads.get(token)

    @property
    def uploads(self) -> list[Uploaded]:
        """Every upload, oldest first."""
        with self._lock:
            return list(self._uploads.values())

    def record_fetch(self, url: str, data: bytes) -> None:
        """Remember the bytes an image URL served."""
        with self._lock:
            self._fetched[url] = data

    @property
    def fetched(self) -> dict[str, bytes]:
        """Image URL -> the bytes it served when "KIE" fetched it."""
        with self._lock:
            return dict(self._fetched)


def image_urls(body: Mapping[str, Any]) -> list[str]:
    """Every image URL a create body names: Veo's ``imageUrls``, a Market input's frame and image fields."""
    inputs = body.get("input")
    fields: Mapping[str, Any] = inputs if isinstance(inputs, Mapping) else body
    found: list[str] = []
    for key in ("imageUrls", "image_urls"):
        value = fields.get(key)
        if isinstance(value, list):
            found += [url for url in value if isinstance(url, str)]
    for key in ("image_url", "first_frame_url", "last_frame_url"):
        value = fields.get(key)
        if isinstance(value, str):
            found.append(value)
    return found


async def fetch_images(book: InputBook, urls: list[str]) -> None:
    """Fetch each image as KIE would; :class:`Invalid` (KIE refuses the request) when one cannot be used."""
    if not urls:
        return
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=True) as client:
        for url in urls:
            try:
                async with client.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise Invalid(f"image fetch failed: HTTP {response.status_code}")
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > MAX_IMAGE_BYTES:
                            raise Invalid("image fetch failed: the file is too large")
            except httpx.HTTPError as exc:
                raise Invalid(f"image fetch failed: {type(exc).__name__}") from exc
            if sniff(bytes(data)) is None:
                raise Invalid("image fetch failed: not a JPEG, PNG or WebP image")
            book.record_fetch(url, bytes(data))


async def base64_upload(request: Request, book: InputBook) -> Response:
    """``POST /api/file-base64-upload {base64Data, uploadPath, fileName}`` (plain base64 or a data URL)."""
    try:
        body = await request.json()
    except ValueError:
        return _failed(400, "request body must be a JSON object")
    if not isinstance(body, dict) or not isinstance(body.get("base64Data"), str):
        return _failed(400, "base64Data is required")
    text: str = body["base64Data"]
    mime = "application/octet-stream"
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        mime = header.removeprefix("data:").split(";")[0] or mime
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return _failed(400, "base64Data is not valid base64")
    return _stored(request, book, data, mime, body.get("uploadPath"), body.get("fileName"))


async def stream_upload(request: Request, book: InputBook) -> Response:
    """``POST /api/file-stream-upload`` (multipart: ``file``, ``uploadPath``, ``fileName``)."""
    async with request.form(max_files=1, max_fields=10) as form:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            return _failed(400, "file is required")
        data = await file.read()
        mime = file.content_type or "application/octet-stream"
        upload_path, name = form.get("uploadPath"), form.get("fileName") or file.filename
    return _stored(request, book, data, mime, upload_path, name)


async def serve_upload(request: Request, book: InputBook) -> Response:
    """``GET /files/uploads/{token}/{name}``: an uploaded file, as KIE's download URL serves it."""
    upload = book.upload(request.path_params["token"])
    if upload is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(upload.data, media_type=upload.mime_type)


def _stored(request: Request, book: InputBook, data: bytes, mime: str, upload_path: object, name: object) -> Response:
    if not data:
        return _failed(400, "the file is empty")
    if len(data) > MAX_IMAGE_BYTES:
        return _failed(400, "the file is too large")
    file_name = name if isinstance(name, str) and name else f"upload-{secrets.token_hex(4)}"
    folder = upload_path if isinstance(upload_path, str) else ""
    token = book.add_upload(Uploaded(file_name, data, mime, folder))
    base = str(request.base_url).rstrip("/")
    data_out = {
        "fileName": file_name,
        "filePath": f"{folder}/{file_name}".lstrip("/"),
        "downloadUrl": f"{base}/files/uploads/{token}/{file_name}",
        "fileSize": len(data),
        "mimeType": mime,
        "uploadedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    }
    return JSONResponse({"success": True, "code": 200, "msg": "File uploaded successfully", "data": data_out})


def _failed(code: int, msg: str) -> JSONResponse:
    return JSONResponse({"success": False, "code": code, "msg": msg, "data": None}, status_code=code)
