"""``reelay run`` as operators run it: a real process, JSON logs without secrets, clean SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from poller.version import VERSION
from sandbox.serve import free_port
from tests.e2e.conftest import ALICE, videos_in
from tests.fixtures.kie import KieStandIn
from tests.fixtures.s3_server import S3Server
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def write_config(
    path: Path, *, redis_url: str, s3: S3Server, bucket: str, kie: KieStandIn, telegram: TelegramStandIn, port: int
) -> None:
    path.write_text(
        f"""
[telegram]
token = "{telegram.token}"
api_base_url = "{telegram.base_url}"
publish_channel_id = {telegram.channel_id}
[redis]
url = "{redis_url}"
[s3]
endpoint_url = "{s3.endpoint_url}"
bucket = "{bucket}"
access_key_id = "{s3.access_key_id}"
secret_access_key = "{s3.secret_access_key}"
[providers.kie]
base_url = "{kie.url}"
api_key = "{kie.api_key}"
[poll]
interval_s = 0.2
first_poll_s = 0.1
allow_fast = true
[http]
port = {port}
[network]
allow_private_addresses = true
[log]
format = "json"
"""
    )


def wait_http_ok(url: str, timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(url, timeout=1)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer 200 within {timeout} s")
        time.sleep(0.05)


def test_run_logs_json_without_secrets_and_stops_cleanly_on_sigterm(
    tmp_path: Path, redis_url: str, s3_server: S3Server, s3_bucket: str, kie: KieStandIn, telegram: TelegramStandIn
) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    write_config(config, redis_url=redis_url, s3=s3_server, bucket=s3_bucket, kie=kie, telegram=telegram, port=port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELAY_")}
    log_path = tmp_path / "reelay.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            ready = wait_http_ok(f"http://127.0.0.1:{port}/readyz")
            assert ready.json()["checks"] == {"redis": True, "blob_store": True, "scheduler": True, "telegram": True}
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok", "version": VERSION}

            telegram.emulator.send_text(ALICE, ALICE, "a lantern floating on a dark lake [polls=1]")
            telegram.emulator.wait_for(lambda: videos_in(telegram, ALICE), timeout=30, what="the video")

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    text = log_path.read_text()
    assert telegram.token not in text
    assert kie.api_key not in text
    assert s3_server.secret_access_key not in text
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    events = [r["event"] for r in records]
    assert "reelay.started" in events
    assert next(r for r in records if r["event"] == "reelay.started")["version"] == VERSION
    assert events[-1] == "reelay.stopped"
    completed = next((r for r in records if r["event"] == "job.completed"), None)
    assert completed is not None, text
    assert completed["status"] == "succeeded"
    for field in (
        "job_id",
        "user_id",
        "model",
        "attempts",
        "total_s",
        "video_url",
        "duration_s",
        "resolution",
        "size_bytes",
    ):
        assert completed[field] is not None, field
    assert all("job_id" in r for r in records if r["event"].startswith("job."))
