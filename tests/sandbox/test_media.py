"""The sample MP4: real, playable, and moving."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from sandbox.media import make_sample_mp4, sample_mp4_bytes


def test_sample_is_a_decodable_mp4_of_the_asked_size_and_length(tmp_path: Path) -> None:
    path = make_sample_mp4(tmp_path / "clip.mp4", seconds=1.5, width=160, height=90, fps=10)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert container.duration is not None
        duration = container.duration / av.time_base
    assert (stream.codec_context.width, stream.codec_context.height) == (160, 90)
    assert len(frames) == 15
    assert duration == pytest.approx(1.5, abs=0.15)


def test_odd_dimensions_are_rounded_down_to_even(tmp_path: Path) -> None:
    path = make_sample_mp4(tmp_path / "odd.mp4", seconds=0.2, width=161, height=91, fps=10)
    with av.open(str(path)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (160, 90)


def test_the_pattern_moves(tmp_path: Path) -> None:
    path = make_sample_mp4(tmp_path / "moving.mp4", seconds=1.0, fps=10)
    with av.open(str(path)) as container:
        frames = [bytes(frame.planes[0]) for frame in container.decode(video=0)]
    assert frames[0] != frames[-1]


def test_cached_sample_bytes_are_an_mp4() -> None:
    data = sample_mp4_bytes()
    assert data[4:8] == b"ftyp"
    assert sample_mp4_bytes() is data


@pytest.mark.parametrize("kwargs", [{"seconds": 0}, {"fps": 0}, {"width": 8}])
def test_nonsense_parameters_are_refused(tmp_path: Path, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        make_sample_mp4(tmp_path / "x.mp4", **kwargs)  # type: ignore[arg-type]
