"""The cheap checks on a photo a video starts from: its type by content (magic bytes), its size, and its dimensions
read from the header. Pure functions, no I/O: the bot runs them on what Telegram says (and on a document's first
bytes) before a job exists, and the engine again on the whole file before the submit.

No image library: Pillow is not a dependency, and the three headers take a few lines each to read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum

MIN_SHORT_SIDE_PX = 300
# Enough of the file to find the dimensions: a JPEG's frame header follows its EXIF (at most 64 KiB) and ICC segments.
HEAD_BYTES = 256 * 1024


class ImageType(StrEnum):
    """The photo formats the providers take."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"

    @property
    def extension(self) -> str:
        """The file name extension it is stored under (``inputs/<job id>.<ext>``)."""
        return "jpg" if self is ImageType.JPEG else self.value

    @property
    def content_type(self) -> str:
        """Its media type."""
        return f"image/{self.value}"


# Other formats people send, named so the answer can say what the file is. Checked in order.
_OTHER_FORMATS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF", "PDF"),
    (0, b"GIF8", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"PK\x03\x04", "ZIP archive"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
    (4, b"ftyp", "video"),
    (0, b"\x1aE\xdf\xa3", "video"),
)


def sniff(head: bytes) -> ImageType | None:
    """The photo format of a file from its first bytes, or None when it is none of JPEG, PNG, WebP."""
    if head.startswith(b"\xff\xd8\xff"):
        return ImageType.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageType.PNG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ImageType.WEBP
    return None


def describe_format(head: bytes) -> str | None:
    """What a file that is not a photo we take looks like ("PDF", "GIF"…), or None when unrecognised."""
    for offset, magic, name in _OTHER_FORMATS:
        if head[offset : offset + len(magic)] == magic:
            return name
    return None


def dimensions(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of a JPEG, PNG or WebP, or None when the bytes given do not say."""
    kind = sniff(head)
    try:
        if kind is ImageType.PNG:
            return _png_size(head)
        if kind is ImageType.WEBP:
            return _webp_size(head)
        if kind is ImageType.JPEG:
            return _jpeg_size(head)
    except (struct.error, IndexError):
        return None  # cut short or malformed
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: a key frame's start code, then 14-bit width and height
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: a signature byte, then 14 bits each of width-1 and height-1
        if data[20] != 0x2F:
            return None
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


# Start-of-frame markers (baseline, progressive, lossless…); C4, C8 and CC are other segments.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD9)})


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE_MARKERS:
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before them
            return None
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None


@dataclass(frozen=True, slots=True)
class NotAPhoto:
    """Not JPEG, PNG or WebP; ``what`` names the format when it is recognised ("PDF")."""

    what: str | None


@dataclass(frozen=True, slots=True)
class TooLarge:
    """Over ``limit`` bytes."""

    size: int
    limit: int


@dataclass(frozen=True, slots=True)
class TooSmall:
    """Shorter than :data:`MIN_SHORT_SIDE_PX` on its short side."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A photo format whose dimensions cannot be read (a broken or truncated file)."""


ImageProblem = NotAPhoto | TooLarge | TooSmall | Unreadable


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What is known about a photo before or after it is fetched (None: not known yet)."""

    size: int | None = None
    width: int | None = None
    height: int | None = None
    kind: ImageType | None = None


def check_facts(facts: ImageFacts, max_bytes: int) -> ImageProblem | None:
    """The first problem what is known already shows: size, then dimensions (unknowns pass)."""
    if facts.size is not None and facts.size > max_bytes:
        return TooLarge(facts.size, max_bytes)
    if facts.width is not None and facts.height is not None and min(facts.width, facts.height) < MIN_SHORT_SIDE_PX:
        return TooSmall(facts.width, facts.height)
    return None


def check_head(head: bytes, *, size: int | None, max_bytes: int) -> tuple[ImageType, ImageProblem | None]:
    """Check a file from its first bytes (and its size when known): its type, then size and dimensions. A header
    that does not show the dimensions within ``head`` passes here (the whole file is checked before the submit)."""
    kind = sniff(head)
    if kind is None:
        return ImageType.JPEG, NotAPhoto(describe_format(head))
    found = dimensions(head)
    width, height = found if found is not None else (None, None)
    return kind, check_facts(ImageFacts(size, width, height, kind), max_bytes)


def check_bytes(data: bytes, max_bytes: int) -> tuple[ImageType, ImageProblem | None]:
    """Check a whole file: its type, its size, its dimensions (which must be readable)."""
    kind, problem = check_head(data, size=len(data), max_bytes=max_bytes)
    if problem is None and dimensions(data) is None:
        return kind, Unreadable()
    return kind, problem


def problem_summary(problem: ImageProblem) -> str:
    """One line for logs and the job record (the user's words are the bot's, in ``bot/texts.py``)."""
    match problem:
        case NotAPhoto(what):
            return f"photo: not a JPEG, PNG or WebP ({what or 'unknown format'})"
        case TooLarge(size, limit):
            return f"photo: {size} bytes, over the {limit}-byte limit"
        case TooSmall(width, height):
            return f"photo: {width}x{height}, under {MIN_SHORT_SIDE_PX} px on its short side"
        case Unreadable():
            return "photo: its dimensions cannot be read"
