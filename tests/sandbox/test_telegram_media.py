"""Videos and files through a real ``telegram.Bot``: uploads, file_id reuse, URLs, downloads and limits."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Video
from telegram.error import BadRequest, NetworkError

from sandbox.serve import ThreadedServer
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.integration
USER = 555
MB = 1024 * 1024


def sizes(video: Video) -> tuple[int, int, int]:
    """Width, height and duration as sent over the wire (``Video.duration`` warns about its type)."""
    wire = video.to_dict()
    return wire["width"], wire["height"], wire["duration"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 64x48, 1-second H.264 MP4 made with PyAV."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 10)
        for index in range(10):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([index * 20]) * plane.buffer_size)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def blob_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A local HTTP server serving ``blobs[name]`` at ``/<name>`` (404 otherwise)."""
    blobs: dict[str, bytes] = {}

    async def serve(request: Request) -> Response:
        data = blobs.get(request.path_params["name"])
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="video/mp4")

    with ThreadedServer(Starlette(routes=[Route("/{name}", serve)])) as server:
        yield server.url, blobs


async def test_uploaded_video_is_reused_by_file_id_in_a_channel_and_copied(
    telegram: TelegramStandIn, clip: Path
) -> None:
    emulator = telegram.emulator
    emulator.add_user(USER)
    buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Publish", callback_data="pub:1")]])
    async with telegram.make_bot() as bot:
        with clip.open("rb") as upload:
            preview = await bot.send_video(
                USER, upload, width=1280, height=720, duration=8, caption="veo3 · 8 s", reply_markup=buttons
            )
        assert preview.video is not None
        published = await bot.send_video(telegram.channel_id, preview.video.file_id, caption="veo3")
        copied = await bot.copy_message(telegram.channel_id, USER, preview.message_id)

    video = preview.video
    assert sizes(video) == (1280, 720, 8)
    assert video.file_size == clip.stat().st_size
    assert video.file_id
    assert video.file_unique_id
    assert preview.caption == "veo3 · 8 s"
    assert preview.reply_markup == buttons
    assert published.video is not None
    assert published.video.file_id == video.file_id
    assert published.video.file_unique_id == video.file_unique_id
    assert published.video.width == 1280
    channel = emulator.messages(telegram.channel_id)
    assert [m.message_id for m in channel] == [published.message_id, copied.message_id]
    assert channel[1].video == channel[0].video
    assert channel[1].caption == "veo3 · 8 s"
    (upload_call, *_) = emulator.calls("sendVideo")
    assert upload_call.params["video"] == {
        "filename": "clip.mp4",
        "content_type": "video/mp4",
        "size": clip.stat().st_size,
    }


async def test_undeclared_video_sizes_are_probed_from_the_bytes(telegram: TelegramStandIn, clip: Path) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        sent = await bot.send_video(USER, clip.read_bytes(), filename="clip.mp4")

    assert sent.video is not None
    assert sizes(sent.video) == (64, 48, 1)


async def test_get_file_then_download_returns_the_uploaded_bytes(telegram: TelegramStandIn, clip: Path) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        sent = await bot.send_video(USER, clip.read_bytes(), width=64, height=48, duration=1)
        assert sent.video is not None
        file = await bot.get_file(sent.video.file_id)
        data = await file.download_as_bytearray()
        document = await bot.send_document(USER, b"plain bytes", filename="notes.txt")
        assert document.document is not None
        doc_file = await bot.get_file(document.document.file_id)
        doc_data = await doc_file.download_as_bytearray()

    assert bytes(data) == clip.read_bytes()
    assert file.file_path is not None
    assert file.file_path.startswith(f"{telegram.base_file_url}{telegram.token}/")
    assert (document.document.file_name, bytes(doc_data)) == ("notes.txt", b"plain bytes")


async def test_video_by_url_is_fetched_and_stored(
    telegram: TelegramStandIn, clip: Path, blob_server: tuple[str, dict[str, bytes]]
) -> None:
    url, blobs = blob_server
    blobs["result.mp4"] = clip.read_bytes()
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        sent = await bot.send_video(USER, f"{url}/result.mp4", width=64, height=48, duration=1)
        assert sent.video is not None
        file = await bot.get_file(sent.video.file_id)
        data = await file.download_as_bytearray()
        with pytest.raises(BadRequest, match=r"^Failed to get http url content$"):
            await bot.send_video(USER, f"{url}/missing.mp4")

    assert sent.video.file_name == "result.mp4"
    assert bytes(data) == clip.read_bytes()


async def test_video_url_over_20_mb_is_refused(
    telegram: TelegramStandIn, blob_server: tuple[str, dict[str, bytes]]
) -> None:
    url, blobs = blob_server
    blobs["at-limit.mp4"] = bytes(20 * MB)
    blobs["too-big.mp4"] = bytes(20 * MB + 1)
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        fits = await bot.send_video(USER, f"{url}/at-limit.mp4", width=1, height=1, duration=1)
        with pytest.raises(BadRequest, match=r"^Failed to get http url content$"):
            await bot.send_video(USER, f"{url}/too-big.mp4", width=1, height=1, duration=1)

    assert fits.video is not None
    assert fits.video.file_size == 20 * MB
    assert len(telegram.emulator.messages(USER)) == 1


async def test_multipart_upload_over_50_mb_is_request_entity_too_large(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        with pytest.raises(NetworkError, match=r"^Request Entity Too Large$"):
            await bot.send_video(USER, bytes(50 * MB + 1), filename="huge.mp4", width=1, height=1, duration=1)

    assert telegram.emulator.messages(USER) == []
    assert telegram.emulator.calls("sendVideo")[0].error == "Request Entity Too Large"


async def test_files_over_20_mb_cannot_be_downloaded_by_bots(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        sent = await bot.send_document(USER, bytes(20 * MB + 1), filename="big.bin")
        assert sent.document is not None
        with pytest.raises(BadRequest, match=r"^File is too big$"):
            await bot.get_file(sent.document.file_id)


async def test_unknown_file_ids_are_refused(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        with pytest.raises(BadRequest, match=r"^Wrong file identifier/http url specified$"):
            await bot.send_video(USER, "BAACAgIAAxkBAAInvalid")
        with pytest.raises(BadRequest, match=r"^Wrong file_id or the file is temporarily unavailable$"):
            await bot.get_file("BAACAgIAAxkBAAInvalid")


async def test_caption_over_1024_characters_is_too_long(telegram: TelegramStandIn, clip: Path) -> None:
    telegram.emulator.add_user(USER)
    async with telegram.make_bot() as bot:
        with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
            await bot.send_video(USER, clip.read_bytes(), caption="c" * 1025)
        sent = await bot.send_video(USER, clip.read_bytes(), caption="c" * 1024, width=64, height=48, duration=1)
        assert sent.video is not None
        with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
            await bot.edit_message_caption(USER, sent.message_id, caption="c" * 1025)
        edited = await bot.edit_message_caption(USER, sent.message_id, caption="short")

    assert isinstance(edited, type(sent))
    assert edited.caption == "short"
    assert [m.caption for m in telegram.emulator.messages(USER)] == ["short"]
