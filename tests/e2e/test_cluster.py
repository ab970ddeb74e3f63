"""The main flow on a local 3-node Redis Cluster: every store, script, lease and PTB's persistence
run against a real cluster, which refuses any command or script that spans two slots (CROSSSLOT)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot import texts
from bot.settings import Settings
from poller.jobs import JobStatus
from sandbox.telegram import Message
from tests.e2e.conftest import (
    ALICE,
    SettingsFactory,
    answer_to,
    bot_messages,
    button_data,
    running,
    videos_in,
    wait_for_job_status,
)
from tests.fixtures.kie import KieStandIn
from tests.fixtures.redis_cluster import RedisClusterNodes
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.s3_server import S3Server
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e


@pytest.fixture
def cluster_settings(make_settings: SettingsFactory, redis_cluster: RedisClusterNodes) -> Callable[..., Settings]:
    """e2e settings on the flushed cluster, reached through one node's URL (the client finds the rest)."""
    redis_cluster.flush()
    host, port = redis_cluster.startup_nodes[1]

    def factory(**overrides: Any) -> Settings:
        return make_settings(redis={"url": f"redis://{host}:{port}/0", "cluster": True}, **overrides)

    return factory


def page(telegram: TelegramStandIn, message_id: int) -> Message | None:
    """Alice's settings message once it shows the model page."""
    message = telegram.emulator.message(ALICE, message_id)
    return message if message is not None and message.text == texts.SETTINGS_PICK_MODEL else None


def keys_per_node(cluster: RedisClusterNodes) -> list[int]:
    """How many keys each node holds."""
    counts = []
    for port, _bus in cluster.ports:
        with cluster.node_client(port) as node:
            counts.append(int(node.dbsize()))
    return counts


async def test_prompt_to_video_with_both_buttons_and_publish_on_the_cluster(
    cluster_settings: Callable[..., Settings],
    redis_cluster: RedisClusterNodes,
    redis_server: RedisServer,
    telegram: TelegramStandIn,
    kie: KieStandIn,
    s3_server: S3Server,
    s3_bucket: str,
) -> None:
    tg = telegram.emulator
    async with running(cluster_settings()) as reelay:
        tg.send_text(ALICE, ALICE, "a red fox in fresh snow [polls=2]")
        preview = await tg.wait_for_async(
            lambda: next(iter(videos_in(telegram, ALICE)), None), timeout=20, what="the video"
        )
        job = await wait_for_job_status(reelay, ALICE, JobStatus.SUCCEEDED)
        buttons = button_data(preview)
        assert set(buttons) == {texts.PUBLISH, texts.EXTEND}

        tg.press_button(ALICE, preview.message_id, ALICE, buttons[texts.PUBLISH])
        post = await tg.wait_for_async(
            lambda: next(iter(videos_in(telegram, telegram.channel_id)), None), what="the channel post"
        )
        await tg.wait_for_async(
            lambda: texts.PUBLISHED in button_data(tg.message(ALICE, preview.message_id) or preview),
            what="the done mark",
        )
        again = tg.press_button(ALICE, preview.message_id, ALICE, buttons[texts.PUBLISH], require_button=False)
        assert await answer_to(telegram, again) == texts.PUBLISH_ALREADY

    assert preview.video is not None
    assert post.video is not None
    assert post.video.file_id == preview.video.file_id
    assert len(videos_in(telegram, telegram.channel_id)) == 1
    assert len([c for c in tg.calls("sendVideo") if c.ok]) == 2, "one preview, one channel post"
    assert job.provider_task_id in kie.sim.tasks
    stored = s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [o["Key"] for o in stored] == [f"videos/{job.id}.mp4"]
    # Everything lived on the cluster, spread over its nodes (bot_data and the user's job index hash to slots
    # on different nodes); the single-node Redis stayed empty.
    assert sum(1 for count in keys_per_node(redis_cluster) if count > 0) >= 2
    with redis_server.client() as single:
        assert single.dbsize() == 0


async def test_settings_persist_on_the_cluster_across_a_restart(
    cluster_settings: Callable[..., Settings], telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    settings = cluster_settings()
    async with running(settings):
        tg.send_text(ALICE, ALICE, "/settings")
        menu = await tg.wait_for_async(lambda: next(iter(bot_messages(telegram, ALICE)), None), what="the menu")
        tg.press_button(ALICE, menu.message_id, ALICE, button_data(menu)[texts.SETTINGS_MODEL])
        models = await tg.wait_for_async(lambda: page(telegram, menu.message_id), what="the model page")
        tg.press_button(ALICE, menu.message_id, ALICE, button_data(models)["Kling 3.0 Pro"])
        await tg.wait_for_async(
            lambda: "Model: Kling 3.0 Pro" in ((tg.message(ALICE, menu.message_id) or menu).text or ""), what="saved"
        )

    async with running(settings):
        tg.send_text(ALICE, ALICE, "a paper boat on a lake [polls=1]")
        await tg.wait_for_async(lambda: videos_in(telegram, ALICE), timeout=20, what="the video")

    assert [body["model"] for body in kie.sim.submissions] == ["kling-3.0/video"]


async def test_a_restart_mid_polling_on_the_cluster_delivers_exactly_once(
    cluster_settings: Callable[..., Settings], telegram: TelegramStandIn, kie: KieStandIn
) -> None:
    tg = telegram.emulator
    settings = cluster_settings()
    async with running(settings):
        tg.send_text(ALICE, ALICE, "a slow sunrise over mountains [polls=8]")
        await tg.wait_for_async(lambda: sum(kie.sim.polls.values()) >= 2, what="two polls before the restart")
    polls_before = sum(kie.sim.polls.values())
    assert videos_in(telegram, ALICE) == []

    async with running(settings) as second:
        await tg.wait_for_async(lambda: videos_in(telegram, ALICE), timeout=20, what="the video")
        job = await wait_for_job_status(second, ALICE, JobStatus.SUCCEEDED)

    assert sum(kie.sim.polls.values()) > polls_before, "the second process took the job over"
    assert len(kie.sim.submissions) == 1, "the restart did not resubmit"
    assert len([c for c in tg.calls("sendVideo") if c.ok]) == 1
    assert len(videos_in(telegram, ALICE)) == 1
    assert job.attempts == sum(kie.sim.polls.values())
