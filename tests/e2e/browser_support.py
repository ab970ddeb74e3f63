"""What the browser tests share: Debian's Chromium through Playwright, and the sandbox with fast videos."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from sandbox.runner import Sandbox, SandboxOptions

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "browser"


def chromium_or_fail() -> Path:
    """Debian's Chromium; a missing browser is a failure, never a skip."""
    if CHROMIUM.exists():
        return CHROMIUM
    # scripts/test installs it (scripts/bootstrap --browser).
    pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/bootstrap --browser does it)")


@asynccontextmanager
async def headless_chromium() -> AsyncIterator[Browser]:
    """Headless Debian Chromium (Playwright's own browser downloads are not used)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium_or_fail()), headless=True, args=LAUNCH_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@asynccontextmanager
async def fast_sandbox(data_dir: Path, *, seed: int) -> AsyncIterator[Sandbox]:
    """The sandbox (``reelay sandbox``) with a real redis-server and videos that finish in a second or two."""
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.fail("redis-server is not on PATH (scripts/bootstrap installs it)")
    options = SandboxOptions(
        port=0,
        data_dir=data_dir,
        redis_server=redis_server,
        completion_s=(1.0, 2.0),
        poll_interval_s=0.5,
        first_poll_s=0.3,
        seed=seed,
    )
    running = Sandbox(options)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
