"""Media probing with PyAV (FFmpeg's demuxers and decoders, no hand-written parser)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av
import structlog

from poller.ports import MediaInfo

log = structlog.get_logger(__name__)

UNKNOWN = MediaInfo(duration_s=None, width=None, height=None, has_video=False)


class PyAvProbe:
    """Reads duration and resolution of a video file; bad or missing files give Nones and ``has_video=False``,
    not errors."""

    async def probe(self, path: Path) -> MediaInfo:
        """Probe ``path`` in a worker thread (FFmpeg calls block)."""
        return await asyncio.to_thread(probe_file, path)


def probe_file(path: Path) -> MediaInfo:
    """Probe synchronously; unknown values are None and problems are logged, never raised."""
    try:
        with av.open(str(path), mode="r") as container:
            video = container.streams.video[0] if container.streams.video else None
            return MediaInfo(
                duration_s=_duration_s(container, video),
                width=_positive(video.codec_context.width) if video else None,
                height=_positive(video.codec_context.height) if video else None,
                has_video=video is not None,
            )
    except Exception as exc:  # PyAV raises many FFmpeg error types; none may reach delivery
        log.warning("probe.failed", path=str(path), error=f"{type(exc).__name__}: {exc}")
        return UNKNOWN


def _duration_s(container: Any, video: Any) -> float | None:
    # The container's duration is in AV_TIME_BASE units (microseconds); some files carry it only
    # on the stream, in the stream's own time base.
    if container.duration is not None and container.duration > 0:
        return float(container.duration / av.time_base)
    if video is not None and video.duration is not None and video.time_base is not None:
        seconds = float(video.duration * video.time_base)
        return seconds if seconds > 0 else None
    return None


def _positive(value: int | None) -> int | None:
    return value if value else None
