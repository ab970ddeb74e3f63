"""``reelay sandbox``: the whole Reelay on local stand-ins starts, delivers a video, and stops everything."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot import texts
from bot.cli import main
from poller.jobs import TaskKind
from sandbox.runner import (
    BOT_TOKEN,
    USER_ID,
    Sandbox,
    SandboxError,
    SandboxOptions,
    SandboxUrls,
    sandbox_settings,
)
from sandbox.serve import free_port

pytestmark = pytest.mark.integration
REPO = Path(__file__).parents[2]


def fast_options(data_dir: Path, *, redis_server: str | None) -> SandboxOptions:
    """A sandbox on a free port whose videos finish in well under a second."""
    return SandboxOptions(
        port=0,
        data_dir=data_dir,
        redis_server=redis_server,
        completion_s=(0.2, 0.4),
        poll_interval_s=0.5,
        first_poll_s=0.2,
        seed=7,
    )


def redis_server_path() -> str:
    path = shutil.which("redis-server")
    if path is None:
        pytest.fail("redis-server is not on PATH (scripts/bootstrap installs it)")
    return path


def refuses_connections(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as probe:
        try:
            probe.connect((parts.hostname or "127.0.0.1", parts.port or 80))
        except ConnectionRefusedError:
            return True
    return False


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """A running sandbox with a real redis-server, stopped after the test."""
    sandbox = Sandbox(fast_options(tmp_path, redis_server=redis_server_path()))
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


async def prompt_to_video(sandbox: Sandbox, prompt: str) -> dict[str, object]:
    """Send a prompt through the web chat's API and return the delivered video's view."""
    assert sandbox.urls is not None
    async with httpx.AsyncClient(base_url=sandbox.urls.webchat, timeout=10) as page:
        sent = await page.post("/api/messages", json={"text": prompt})
        assert sent.status_code == 201
        await sandbox.emulator.wait_for_async(
            lambda: any(m.video for m in sandbox.emulator.messages(USER_ID)), timeout=30, what="the video"
        )
        state = (await page.get("/api/state")).json()
    return next(m for m in state["chat"]["messages"] if m["video"])


async def test_the_sandbox_serves_the_chat_and_delivers_a_video_end_to_end(started: Sandbox) -> None:
    urls = started.urls
    assert urls is not None
    async with httpx.AsyncClient(timeout=10) as client:
        chat_page = await client.get(f"{urls.webchat}/")
        ready = await client.get(f"{urls.reelay}/readyz")

    preview = await prompt_to_video(started, "a paper boat on a lake")

    assert chat_page.status_code == 200
    assert "Reelay sandbox" in chat_page.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"redis": True, "blob_store": True, "scheduler": True, "telegram": True},
    }
    messages = started.emulator.messages(USER_ID)
    assert any(m.text and m.text.startswith(texts.GENERATING) for m in messages)
    assert [b["text"] for row in preview["buttons"] for b in row] == [  # type: ignore[attr-defined]
        texts.PUBLISH,
        texts.EXTEND,
        texts.upgrade_button(TaskKind.UPSCALE_1080P),
        texts.upgrade_button(TaskKind.UPSCALE_4K),
    ]
    assert [task.prompt for task in started.kie.tasks.values()] == ["a paper boat on a lake"]
    stored = list(started.videos_dir.iterdir())
    assert len(stored) == 1  # the local blob store, served by the web chat at /videos
    async with httpx.AsyncClient(timeout=10) as client:
        served = await client.get(f"{urls.videos}/{stored[0].name}")
    assert served.content == stored[0].read_bytes()


async def test_the_banner_prints_the_console_and_its_token_which_signs_in(started: Sandbox) -> None:
    urls = started.urls
    assert urls is not None
    banner = started.banner()
    match = re.search(r"Operator console\s+(\S+)\s+\(token: (\S+)\)", banner)
    assert match is not None, banner
    console_url, token = match.groups()

    async with httpx.AsyncClient(timeout=10) as client:
        refused = await client.get(console_url)
        signed_in = await client.post(f"{urls.reelay}/console/sign-in", data={"token": token})
        overview = await client.get(console_url)

    assert console_url == f"{urls.reelay}/console/"
    assert refused.status_code == 303
    assert signed_in.status_code == 303
    assert overview.status_code == 200
    assert "Live processes" in overview.text


async def test_stop_takes_down_every_server_and_redis(tmp_path: Path) -> None:
    sandbox = Sandbox(fast_options(tmp_path, redis_server=redis_server_path()))
    urls = await sandbox.start()
    assert sandbox.redis is not None
    assert sandbox.redis.kind == "redis-server"
    assert (tmp_path / "redis" / "appendonlydir").is_dir()  # a real, persisted Redis in the data folder

    await sandbox.stop()

    for url in (urls.webchat, urls.telegram, urls.kie, urls.reelay, urls.redis):
        assert refuses_connections(url), url


async def test_stopping_ends_an_open_event_stream_instead_of_waiting_for_it(tmp_path: Path) -> None:
    sandbox = Sandbox(fast_options(tmp_path, redis_server=redis_server_path()))
    urls = await sandbox.start()
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("GET", f"{urls.webchat}/api/events") as stream,
    ):
        lines = stream.aiter_lines()
        async for line in lines:
            if line.startswith("event: snapshot"):
                break
        await sandbox.stop()
        rest = [line async for line in lines]

    assert all(not line.startswith("event:") for line in rest)
    assert refuses_connections(urls.webchat)


async def test_without_redis_server_fakeredis_stands_in_and_videos_still_arrive(tmp_path: Path) -> None:
    sandbox = Sandbox(fast_options(tmp_path, redis_server=None))
    await sandbox.start()
    try:
        assert sandbox.redis is not None
        assert sandbox.redis.kind == "fakeredis"
        assert not sandbox.redis.persistent
        assert "nothing is persisted" in sandbox.banner()

        preview = await prompt_to_video(sandbox, "a lighthouse in a storm")

        assert preview["video"]
        assert not (tmp_path / "redis").exists()
    finally:
        await sandbox.stop()
    assert sandbox.urls is not None
    assert refuses_connections(sandbox.urls.redis)


async def test_a_taken_port_fails_at_once_and_leaves_nothing_running(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sandbox = Sandbox(SandboxOptions(port=port, data_dir=tmp_path, redis_server=redis_server_path()))

        with pytest.raises(SandboxError, match=f"127.0.0.1:{port}.*--port"):
            await sandbox.start()

    assert sandbox.redis is None
    assert not (tmp_path / "redis").exists()


def test_sandbox_settings_come_from_code_not_from_reelay_environment_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Variables meant for a real deployment must not point the sandbox at real Telegram.
    monkeypatch.setenv("REELAY_TELEGRAM__TOKEN", "999:REAL-TOKEN")
    monkeypatch.setenv("REELAY_TELEGRAM__API_BASE_URL", "https://api.telegram.org/bot")
    urls = SandboxUrls(
        "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3", "http://127.0.0.1:4", "redis://127.0.0.1:5/0"
    )

    settings = sandbox_settings(SandboxOptions(), urls, videos_dir=tmp_path, channel_id=-100, reelay_port=4)

    assert settings.telegram.token.get_secret_value() == BOT_TOKEN
    assert settings.telegram.api_base_url == "http://127.0.0.1:2/bot"
    assert settings.providers.kie.base_url == "http://127.0.0.1:3"
    assert settings.storage.backend == "local"
    assert settings.storage.local_public_url == "http://127.0.0.1:1/videos"
    assert settings.poll.allow_fast
    assert settings.credits.enabled
    assert settings.admin.user_ids == [USER_ID]
    assert settings.http.console_token is None  # the sandbox passes a new one at every start
    assert settings.providers.fal is None, "no fal simulator address: fal stays unconfigured"


def test_sandbox_settings_configure_fal_with_its_simulator(tmp_path: Path) -> None:
    fal = "http://127.0.0.1:6"
    urls = SandboxUrls(
        "http://127.0.0.1:1",
        "http://127.0.0.1:2",
        "http://127.0.0.1:3",
        "http://127.0.0.1:4",
        "redis://127.0.0.1:5/0",
        fal,
    )

    settings = sandbox_settings(SandboxOptions(), urls, videos_dir=tmp_path, channel_id=-100, reelay_port=4)

    assert settings.providers.fal is not None
    assert settings.providers.fal.queue_url == fal
    assert settings.providers.fal.jwks_url == f"{fal}/.well-known/jwks.json"
    assert "fal-ai/veo3/fast" in [model.id for model in settings.catalog().offered()]


def test_cli_refuses_an_inverted_completion_range(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sandbox", "--completion-s", "9", "1"])

    assert code == 2
    assert "--completion-s" in capsys.readouterr().err


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_prints_every_address_and_a_signal_stops_everything(tmp_path: Path, stop_signal: signal.Signals) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", str(port), "--data-dir", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = read_banner(process, f"http://127.0.0.1:{port}/")
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        process.send_signal(stop_signal)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert page.status_code == 200
    assert code == 0
    addresses = re.findall(r"(?:http|redis)://127\.0\.0\.1:\d+", banner)
    assert len(set(addresses)) == 6  # chat, Telegram, KIE, fal, Reelay, Redis
    for address in addresses:
        assert refuses_connections(address), address


def read_banner(process: subprocess.Popen[str], chat_url: str) -> str:
    """stdout up to the end of the banner (its Ctrl-C line); fails with stderr if the process dies first."""
    assert process.stdout is not None
    lines: list[str] = []
    while not any("Ctrl-C" in line for line in lines):
        line = process.stdout.readline()
        if not line:
            stderr = process.stderr.read() if process.stderr else ""
            pytest.fail(f"reelay sandbox exited early ({process.wait()}):\n{''.join(lines)}\n{stderr}")
        lines.append(line)
    banner = "".join(lines)
    assert chat_url in banner
    return banner
