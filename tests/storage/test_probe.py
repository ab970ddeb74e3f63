"""PyAvProbe on real files: an H.264 MP4 made here with PyAV, and garbage."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from poller.ports import MediaInfo
from storage.probe import PyAvProbe


def write_mp4(path: Path, *, width: int, height: int, seconds: int, fps: int = 24) -> None:
    """Encode a real H.264 MP4 (flat frames changing shade) with PyAV's bundled FFmpeg."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for index in range(seconds * fps):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([index * 5 % 256]) * plane.buffer_size)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    write_mp4(path, width=64, height=48, seconds=1)
    return path


async def test_probe_reads_duration_and_resolution_of_an_mp4(mp4: Path) -> None:
    info = await PyAvProbe().probe(mp4)

    assert (info.width, info.height) == (64, 48)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert info.has_video


async def test_probe_of_garbage_returns_unknowns_without_raising(tmp_path: Path) -> None:
    garbage = tmp_path / "not-a-video.mp4"
    garbage.write_bytes(b"\x00\x01 this is not a video " * 100)

    assert await PyAvProbe().probe(garbage) == MediaInfo(None, None, None, has_video=False)


async def test_probe_of_a_truncated_mp4_never_raises(mp4: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(mp4.read_bytes()[:200])

    info = await PyAvProbe().probe(truncated)

    assert isinstance(info, MediaInfo)


async def test_probe_of_a_missing_file_returns_unknowns(tmp_path: Path) -> None:
    assert await PyAvProbe().probe(tmp_path / "missing.mp4") == MediaInfo(None, None, None, has_video=False)
