"""Photos and files from a person, read through a real ``telegram.Bot``: sizes, getFile, the download path, albums."""

from __future__ import annotations

import pytest

from poller.images import dimensions
from sandbox import images
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.integration
USER = 777


async def test_a_photo_arrives_in_sizes_with_the_original_as_the_largest(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    photo = images.jpeg(1280, 720)
    telegram.emulator.send_photo(USER, USER, photo, caption="a fox")

    async with telegram.make_bot() as bot:
        [update] = await bot.get_updates()
        message = update.message
        assert message is not None
        assert message.caption == "a fox"
        thumb, largest = message.photo
        assert (largest.width, largest.height, largest.file_size) == (1280, 720, len(photo))
        assert max(thumb.width, thumb.height) == 90
        assert largest.file_id != thumb.file_id
        file = await bot.get_file(largest.file_id)
        assert file.file_path is not None
        assert f"/file/bot{telegram.token}/photos/" in file.file_path
        assert bytes(await file.download_as_bytearray()) == photo
        thumb_bytes = bytes(await (await bot.get_file(thumb.file_id)).download_as_bytearray())
        assert dimensions(thumb_bytes) == (thumb.width, thumb.height)


async def test_a_document_keeps_the_claimed_name_and_type(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    telegram.emulator.send_document(USER, USER, images.pdf(), file_name="photo.jpg", mime_type="image/jpeg")

    async with telegram.make_bot() as bot:
        [update] = await bot.get_updates()
        document = update.message.document if update.message else None
        assert document is not None
        claimed = (document.file_name, document.mime_type, document.file_size)
        assert claimed == ("photo.jpg", "image/jpeg", len(images.pdf()))
        data = await (await bot.get_file(document.file_id)).download_as_bytearray()
        assert bytes(data) == images.pdf()


async def test_an_album_is_one_update_per_photo_with_one_group_id(telegram: TelegramStandIn) -> None:
    telegram.emulator.add_user(USER)
    for index in range(2):
        telegram.emulator.send_photo(USER, USER, images.png(400, 400 + index), media_group_id="album-1")

    async with telegram.make_bot() as bot:
        updates = await bot.get_updates()
    assert [u.message.media_group_id for u in updates if u.message] == ["album-1", "album-1"]
    assert [u.message.photo[-1].height for u in updates if u.message] == [400, 401]


def test_bytes_that_are_no_photo_cannot_be_sent_as_one(telegram: TelegramStandIn) -> None:
    with pytest.raises(ValueError, match="document"):
        telegram.emulator.send_photo(USER, USER, images.pdf())
