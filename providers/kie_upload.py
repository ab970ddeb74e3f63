"""KIE's file upload API (free; files kept 24 h to 3 days): a user's photo handed to KIE itself, whose
``downloadUrl`` then goes into the generate request (``providers.kie.upload_inputs``; docs/providers.md).

The base64 upload (``POST /api/file-base64-upload``), which KIE recommends for images: one JSON request over the
same :class:`~providers.api_client.ApiClient` as every KIE call. The same ``fileName`` overwrites, so a retried
upload of a job's photo replaces the first.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import structlog

from poller.errors import ErrorCode, JobError
from poller.images import ImageType
from providers.api_client import ApiClient
from providers.kie_common import KieApi

log = structlog.get_logger(__name__)

BASE64_UPLOAD_PATH = "/api/file-base64-upload"
UPLOAD_FOLDER = "reelay/inputs"


class KieUploadLinks:
    """Implements :class:`poller.inputs.InputLinks` through KIE's upload API."""

    def __init__(self, client: ApiClient, upload_base_url: str, api_key: str) -> None:
        self._api = KieApi(client, upload_base_url, api_key, provider="kie_upload")

    async def link_for(self, key: str, data: bytes, kind: ImageType) -> str:
        """Upload the photo; return KIE's ``data.downloadUrl``. :class:`JobError` on failure (retryable unless KIE
        refused the file itself)."""
        body = {
            "base64Data": f"data:{kind.content_type};base64,{base64.b64encode(data).decode('ascii')}",
            "uploadPath": UPLOAD_FOLDER,
            "fileName": key.rsplit("/", 1)[-1],
        }
        answer = await self._api.post(BASE64_UPLOAD_PATH, body)
        url = answer.get("downloadUrl") if isinstance(answer, Mapping) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise JobError(ErrorCode.PROVIDER_UNAVAILABLE, f"{BASE64_UPLOAD_PATH}: no downloadUrl in the answer")
        log.info("kie_upload.uploaded", key=key, size_bytes=len(data))
        return url
