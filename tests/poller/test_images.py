"""The photo checks: type by magic bytes, dimensions from each format's header, size and short-side limits."""

from __future__ import annotations

import struct

import pytest

from poller.images import (
    MIN_SHORT_SIDE_PX,
    ImageFacts,
    ImageType,
    NotAPhoto,
    TooLarge,
    TooSmall,
    Unreadable,
    check_bytes,
    check_facts,
    check_head,
    dimensions,
    problem_summary,
    sniff,
)
from sandbox import images

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("data", "kind"),
    [(images.png(4, 3), ImageType.PNG), (images.jpeg(4, 3), ImageType.JPEG), (images.webp(4, 3), ImageType.WEBP)],
)
def test_sniff_knows_the_three_formats_by_content(data: bytes, kind: ImageType) -> None:
    assert sniff(data) is kind


def test_sniff_refuses_other_files_whatever_their_name() -> None:
    assert sniff(images.pdf()) is None
    assert sniff(b"GIF89a....") is None
    assert sniff(b"") is None


@pytest.mark.parametrize("maker", [images.png, images.jpeg, images.webp])
@pytest.mark.parametrize(("width", "height"), [(1280, 720), (300, 4000), (1, 1)])
def test_dimensions_are_read_from_each_header(maker: object, width: int, height: int) -> None:
    assert callable(maker)
    assert dimensions(maker(width, height)) == (width, height)


def test_jpeg_dimensions_after_a_large_exif_segment() -> None:
    assert dimensions(images.jpeg(640, 480, exif_bytes=60_000)) == (640, 480)


def test_webp_lossy_and_extended_headers() -> None:
    lossy = b"RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00" + b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", 800, 600)
    extended = b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00" + (1919).to_bytes(3, "little")
    extended += (1079).to_bytes(3, "little")
    assert dimensions(lossy) == (800, 600)
    assert dimensions(extended) == (1920, 1080)


def test_truncated_headers_give_no_dimensions() -> None:
    assert dimensions(images.jpeg(640, 480)[:10]) is None
    assert dimensions(images.png(640, 480)[:18]) is None
    assert dimensions(images.pdf()) is None


def test_a_pdf_is_named_in_the_problem() -> None:
    _, problem = check_head(images.pdf(), size=100, max_bytes=MB)
    assert problem == NotAPhoto("PDF")
    assert "PDF" in problem_summary(problem)


def test_size_is_checked_before_dimensions() -> None:
    assert check_facts(ImageFacts(size=MB + 1, width=10, height=10), MB) == TooLarge(MB + 1, MB)
    assert check_facts(ImageFacts(size=MB, width=200, height=150), MB) == TooSmall(200, 150)


def test_the_short_side_decides() -> None:
    assert check_facts(ImageFacts(width=MIN_SHORT_SIDE_PX, height=5000), MB) is None
    assert check_facts(ImageFacts(width=5000, height=MIN_SHORT_SIDE_PX - 1), MB) == TooSmall(5000, 299)
    assert check_facts(ImageFacts(), MB) is None  # nothing known yet: the whole file is checked later


def test_whole_file_checks_type_size_and_dimensions() -> None:
    good = images.png(640, 480)
    assert check_bytes(good, MB) == (ImageType.PNG, None)
    assert check_bytes(good, len(good) - 1)[1] == TooLarge(len(good), len(good) - 1)
    assert check_bytes(images.webp(200, 150), MB)[1] == TooSmall(200, 150)
    assert check_bytes(images.jpeg(640, 480)[:12], MB)[1] == Unreadable()
