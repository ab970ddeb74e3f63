"""LocalBlobStore on a temp folder: atomic writes, refused escapes, links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from poller.errors import ErrorCode, JobError
from storage.blobs_local import LocalBlobStore


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_stream_is_written_under_the_root_with_its_size(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)

    blob = await store.put_stream("2025/01/job.mp4", chunks(b"abc", b"", b"defg"), "video/mp4")

    assert (blob.key, blob.size_bytes) == ("2025/01/job.mp4", 7)
    assert (tmp_path / "2025/01/job.mp4").read_bytes() == b"abcdefg"
    assert [p.name for p in (tmp_path / "2025/01").iterdir()] == ["job.mp4"]  # no temp file left


async def test_a_failed_stream_leaves_the_previous_file_and_no_temp_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    await store.put_stream("v.mp4", chunks(b"old"), "video/mp4")

    async def broken() -> AsyncIterator[bytes]:
        yield b"new-partial"
        raise OSError("disk on fire")

    with pytest.raises(JobError) as failed:
        await store.put_stream("v.mp4", broken(), "video/mp4")

    assert failed.value.code is ErrorCode.UPLOAD_FAILED
    assert (tmp_path / "v.mp4").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


async def test_download_error_from_the_stream_passes_through(tmp_path: Path) -> None:
    too_big = JobError(ErrorCode.DOWNLOAD_FAILED, "too big")

    async def oversized() -> AsyncIterator[bytes]:
        yield b"x"
        raise too_big

    with pytest.raises(JobError) as failed:
        await LocalBlobStore(tmp_path).put_stream("v.mp4", oversized(), "video/mp4")
    assert failed.value is too_big
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", ["../outside.mp4", "a/../../outside.mp4", "/etc/passwd", "", ".", "a\\b"])
async def test_keys_that_escape_the_root_are_refused(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path / "root")
    with pytest.raises(ValueError, match="key"):
        await store.put_stream(key, chunks(b"x"), "video/mp4")
    assert not (tmp_path / "outside.mp4").exists()


async def test_url_is_public_base_or_file_uri(tmp_path: Path) -> None:
    await LocalBlobStore(tmp_path).put_stream("a b.mp4", chunks(b"x"), "video/mp4")

    assert await LocalBlobStore(tmp_path, "http://127.0.0.1:8080/media/").url_for("a b.mp4", 60) == (
        "http://127.0.0.1:8080/media/a%20b.mp4"
    )
    file_url = await LocalBlobStore(tmp_path).url_for("a b.mp4", 60)
    assert file_url == (tmp_path.resolve() / "a b.mp4").as_uri()


async def test_delete_removes_and_ignores_missing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    await store.put_stream("x.mp4", chunks(b"x"), "video/mp4")

    await store.delete("x.mp4")
    await store.delete("x.mp4")

    assert not (tmp_path / "x.mp4").exists()
