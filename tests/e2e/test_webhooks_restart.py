"""The outbox survives a crash: ``reelay run`` SIGKILLed while its events cannot be delivered (the receiver is
down) delivers every one of them, signed and with the same ``webhook-id``, after it starts again."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from sandbox.serve import free_port
from storage.webhook_outbox import WebhookOutbox
from tests.e2e.conftest import ALICE, videos_in
from tests.e2e.test_process import ROOT, write_config
from tests.fixtures.kie import KieStandIn
from tests.fixtures.s3_server import S3Server
from tests.fixtures.telegram import TelegramStandIn
from tests.fixtures.webhook_receiver import Receiver
from webhooks.signing import new_secret, verify

pytestmark = pytest.mark.e2e
SECRET = new_secret()
MOMENTS = {"job.created", "job.running", "job.succeeded"}


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELAY_")}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(port: int, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient() as client:
        while loop.time() < deadline:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("Reelay did not become ready")


def attempted_types(receiver: Receiver) -> set[str]:
    return {json.loads(request.body)["type"] for request in receiver.received}


async def test_events_pending_when_reelay_is_sigkilled_are_delivered_after_it_starts_again(
    tmp_path: Path,
    redis_url: str,
    redis_client: aioredis.Redis,
    s3_server: S3Server,
    s3_bucket: str,
    kie: KieStandIn,
    telegram: TelegramStandIn,
    receiver: Receiver,
) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    write_config(config, redis_url=redis_url, s3=s3_server, bucket=s3_bucket, kie=kie, telegram=telegram, port=port)
    with config.open("a") as extra:
        # Retried often, never dead-lettered within the test: the events stay pending while the receiver is down.
        extra.write(
            f'[webhooks]\nretry_delays_s = [0.5]\nmax_attempts = 50\n[[webhooks.endpoints]]\nurl = "{receiver.url}"\n'
            f'secret = "{SECRET}"\n'
        )
    log = tmp_path / "reelay.log"
    receiver.default = 503  # down
    loop = asyncio.get_running_loop()
    first = start(config, log)
    try:
        await wait_ready(port)
        telegram.emulator.send_text(ALICE, ALICE, "a lantern floating on a dark lake [polls=1]")
        await telegram.emulator.wait_for_async(lambda: videos_in(telegram, ALICE), timeout=30, what="the video")
        deadline = loop.time() + 30
        while attempted_types(receiver) != MOMENTS:  # every event stored and tried at least once
            assert loop.time() < deadline, attempted_types(receiver)
            await asyncio.sleep(0.05)
        first.kill()  # SIGKILL: no clean stop, no lease given back
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    outbox = WebhookOutbox(redis_client, prefix="reelay")
    assert (await outbox.counts())["waiting"] == 3, "the crash lost nothing"
    pending = set(receiver.ids())
    assert len(pending) == 3
    tried_before = len(receiver.received)
    receiver.default = 204  # back up

    second = start(config, log)
    try:
        await wait_ready(port)
        # An event the dead process held under its 30 s lease waits for the lease to run out.
        deadline = loop.time() + 45
        while (await outbox.counts())["waiting"]:
            assert loop.time() < deadline, "events still pending after the restart"
            await asyncio.sleep(0.1)
        counts = await outbox.counts()
    finally:
        second.kill()
        second.wait()

    assert counts.get("delivered") == 3
    assert counts.get("dead", 0) == 0
    after = receiver.received[tried_before:]
    assert {request.headers["webhook-id"] for request in after} == pending, "the same ids as before the crash"
    assert {json.loads(request.body)["type"] for request in after} == MOMENTS
    for request in receiver.received:
        verify(SECRET, request.headers, request.body)
    logged = log.read_text()
    assert SECRET.removeprefix("whsec_") not in logged
    assert receiver.url not in logged, "a webhook URL may carry a token: never logged"
    assert "webhook.delivered" in logged
