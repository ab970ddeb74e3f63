"""Which buttons a delivered video offers (Extend, 1080p, 4K), and how its keyboard shows what was asked for."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from bot import texts
from bot.i18n import ENGLISH
from bot.upgrades import UPGRADE_EFFECTS, current_preview, extendable, fresh_preview, upgrades_offered
from poller.jobs import Job, TaskKind
from poller.ports import Session
from storage.redis_jobs import RedisJobStore

HD, UHD = TaskKind.UPSCALE_1080P, TaskKind.UPSCALE_4K


def job(model: str = "veo3_fast", kind: TaskKind = TaskKind.GENERATE) -> Job:
    parent = "Parent12345" if kind is not TaskKind.GENERATE else None
    return Job(id="Video123456", user_id=1, chat_id=1, model=model, prompt="a fox", parent_id=parent, kind=kind)


def labels(markup: object) -> list[list[str]]:
    return [[button.text for button in row] for row in markup.inline_keyboard]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("video", "offered"),
    [
        (job("veo3_fast"), (HD, UHD)),
        (job("veo3"), (HD, UHD)),
        (job("veo3_fast", TaskKind.EXTEND), (HD, UHD)),
        (job("veo3_lite"), ()),
        (job("bytedance/seedance-2"), ()),
        (job("veo3_fast", HD), ()),
        (job("veo3", UHD), ()),
    ],
)
def test_upgrades_are_offered_under_videos_of_upscalable_models_that_are_not_upgrades(
    video: Job, offered: tuple[TaskKind, ...]
) -> None:
    assert upgrades_offered(video, enabled=True) == offered
    assert upgrades_offered(video, enabled=False) == ()


def test_an_upgraded_video_offers_publish_only() -> None:
    upgraded = job("veo3_fast", UHD)
    assert not extendable(upgraded)
    assert labels(fresh_preview(ENGLISH, upgraded, offer_upgrades=True)) == [[texts.PUBLISH]]
    assert labels(fresh_preview(ENGLISH, job(), offer_upgrades=True)) == [
        [texts.PUBLISH, texts.EXTEND],
        [texts.upgrade_button(HD), texts.upgrade_button(UHD)],
    ]


async def test_the_keyboard_shows_each_asked_upgrade_and_the_publication_as_done(fake_redis: aioredis.Redis) -> None:
    jobs = RedisJobStore(fake_redis, history_ttl_s=3600)
    video = job()
    await jobs.create(video, Session(chat_id=1, user_id=1))
    await jobs.claim(video.id, UPGRADE_EFFECTS[UHD])

    markup = await current_preview(ENGLISH, jobs, video, offer_upgrades=True, published=True)

    assert labels(markup) == [
        [texts.PUBLISHED, texts.EXTEND],
        [texts.upgrade_button(HD), texts.upgrade_asked(ENGLISH, UHD)],
    ]
    data = [button.callback_data for row in markup.inline_keyboard for button in row]
    assert data == ["noop", f"ext:{video.id}", f"u1080:{video.id}", "noop"]
