"""Small photos made on the spot for the sandbox and the tests (no image library): a real, decodable grey PNG of any
size, and JPEG and WebP files whose headers are right (what the checks read) with a token body."""

from __future__ import annotations

import secrets
import struct
import zlib


def png(width: int, height: int, *, shade: int = 128) -> bytes:
    """A valid greyscale PNG of ``width`` × ``height``."""
    row = b"\x00" + bytes([shade]) * width  # filter byte "none", then one byte per pixel
    pixels = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")


def jpeg(width: int, height: int, *, exif_bytes: int = 0) -> bytes:
    """A JPEG whose frame header says ``width`` × ``height`` (after an APP1 segment of ``exif_bytes``), with random
    scan bytes, so two calls never give the same file."""
    out = b"\xff\xd8" + _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    if exif_bytes:
        out += _segment(0xE1, b"Exif\x00\x00" + bytes(max(0, exif_bytes - 6)))
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    scan_header = _segment(0xDA, b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00")
    return out + _segment(0xC0, sof) + scan_header + _scan() + b"\xff\xd9"


def webp(width: int, height: int) -> bytes:
    """A lossless WebP whose header says ``width`` × ``height`` (token pixel data)."""
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"\x2f" + bits.to_bytes(4, "little") + secrets.token_bytes(16)
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def pdf() -> bytes:
    """A tiny PDF (a document that is not a photo)."""
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _segment(marker: int, data: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data


def _scan() -> bytes:
    # 0xFF inside scan data must be stuffed; random bytes without 0xFF are simpler.
    return bytes(b % 255 for b in secrets.token_bytes(64))
