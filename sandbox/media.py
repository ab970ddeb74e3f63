"""Sample media: a small, real, playable MP4 made with PyAV (no numpy, no external ffmpeg)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer
from av.video.stream import VideoStream

# Codec preference: H.264 plays everywhere (Telegram previews it inline); MPEG-4 part 2 is the fallback.
_CODECS = ("libx264", "h264", "mpeg4")


def make_sample_mp4(path: Path, seconds: float = 2.0, width: int = 320, height: int = 180, fps: int = 24) -> Path:
    """Write an MP4 of ``seconds`` showing a bright bar sweeping over a colour gradient; return ``path``."""
    if seconds <= 0 or fps <= 0 or width < 16 or height < 16:
        raise ValueError("seconds and fps must be positive, width and height at least 16")
    # yuv420p needs even dimensions.
    width, height = width - width % 2, height - height % 2
    frames = max(1, round(seconds * fps))
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = _add_video_stream(container, width, height, fps)
        for index in range(frames):
            frame = _pattern_frame(width, height, index, frames)
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@functools.cache
def sample_mp4_bytes() -> bytes:
    """The default sample video as bytes (made once per process)."""
    return sample_mp4_path().read_bytes()


@functools.cache
def sample_mp4_path() -> Path:
    """The default sample video on disk, in the temp directory (made once per process)."""
    # A private directory (not a fixed /tmp name another user could plant a file at), removed at exit.
    directory = Path(tempfile.mkdtemp(prefix="reelay-sample-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return make_sample_mp4(directory / "sample.mp4")


def _add_video_stream(container: OutputContainer, width: int, height: int, fps: int) -> VideoStream:
    available = av.codecs_available
    codec = next((name for name in _CODECS if name in available), "mpeg4")
    options = {"preset": "ultrafast", "crf": "28"} if codec == "libx264" else {}
    stream = container.add_stream(codec, rate=fps, options=options)
    if not isinstance(stream, VideoStream):  # narrows the type: a video codec makes a video stream
        raise TypeError(f"{codec} did not create a video stream")
    stream.width = width
    stream.height = height
    stream.pix_fmt = "yuv420p"
    return stream


def _pattern_frame(width: int, height: int, index: int, frames: int) -> av.VideoFrame:
    """One yuv420p frame: a horizontal luma gradient, a bar at a moving x, chroma shifting over time."""
    frame = av.VideoFrame(width, height, "yuv420p")
    luma_plane, u_plane, v_plane = frame.planes
    bar_width = max(4, width // 10)
    bar_x = (index * (width - bar_width)) // max(1, frames - 1)
    row = bytearray(min(235, 16 + (x * 160) // width) for x in range(width))
    row[bar_x : bar_x + bar_width] = bytes([235]) * bar_width
    row += bytes(luma_plane.line_size - width)
    luma_plane.update(bytes(row) * height)
    shift = (index * 96) // max(1, frames)
    u_plane.update(bytes([(80 + shift) % 256]) * u_plane.buffer_size)
    v_plane.update(bytes([(176 - shift) % 256]) * v_plane.buffer_size)
    return frame
