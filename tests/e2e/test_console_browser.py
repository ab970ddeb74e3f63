"""An operator in a real browser: Debian's Chromium, driven by Playwright, using the sandbox's operator console.

The sandbox is the one ``reelay sandbox`` runs (with its printed console token), only with videos that finish in a
second or two. The operator signs in, watches a job appear and reach ``succeeded`` without reloading, reads a failed
job's raw provider error, and cancels a running job. Screenshots of every step go to ``artifacts/browser/``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from sandbox.kie.bodies import FAIL_MESSAGE
from sandbox.runner import USER_ID, Sandbox
from tests.e2e.browser_support import ARTIFACTS, fast_sandbox, headless_chromium

pytestmark = pytest.mark.e2e
WAIT_MS = 30_000


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Headless Debian Chromium."""
    async with headless_chromium() as launched:
        yield launched


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The sandbox with fast videos and a real redis-server."""
    async with fast_sandbox(tmp_path, seed=3) as running:
        yield running


@pytest.fixture
async def page(chromium: Browser, sandbox: Sandbox, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A tab; every script error it raises fails the test, and its last state is saved as a screenshot."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = await chromium.new_context(viewport={"width": 1360, "height": 900})
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
        assert errors == []
    finally:
        await tab.screenshot(path=ARTIFACTS / f"{request.node.name}-last.png")
        await context.close()


async def shot(page: Page, name: str) -> None:
    """Save a screenshot as a test artifact."""
    await page.screenshot(path=ARTIFACTS / f"console-{name}.png", full_page=True)


def send(sandbox: Sandbox, prompt: str) -> None:
    """The person writes to the bot (what the web chat's composer does)."""
    sandbox.emulator.send_text(USER_ID, USER_ID, prompt, first_name="You")


async def test_an_operator_signs_in_watches_jobs_live_reads_a_raw_error_and_cancels_a_job(
    page: Page, sandbox: Sandbox
) -> None:
    assert sandbox.urls is not None
    await page.goto(f"{sandbox.urls.reelay}/console/jobs")
    await expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    await page.get_by_test_id("token-input").fill(sandbox.console_token)
    await shot(page, "01-sign-in")
    await page.get_by_test_id("sign-in").click()
    await expect(page).to_have_url(re.compile(r"/console/jobs$"))
    await expect(page.get_by_test_id("connection")).to_have_text("live")
    await page.evaluate("window.__sameDocument = true")

    # A job appears at the top of the list and moves to succeeded, without a reload.
    send(sandbox, "A red fox running through fresh snow at sunrise")
    rows = page.locator("table.jobs tbody tr")
    await expect(rows).to_have_count(1, timeout=WAIT_MS)
    status = rows.first.get_by_test_id("status")
    await expect(status).to_have_text(re.compile("queued|validating|running|delivering|succeeded"))
    await shot(page, "02-job-appears")
    await expect(status).to_have_text("succeeded", timeout=WAIT_MS)
    assert await page.evaluate("window.__sameDocument === true")
    await shot(page, "03-job-succeeded")

    # A failed job: its page shows the provider's raw error.
    send(sandbox, "A fox the provider refuses [fail]")
    await expect(rows).to_have_count(2, timeout=WAIT_MS)
    await expect(rows.first.get_by_test_id("status")).to_have_text("failed", timeout=WAIT_MS)
    assert await page.evaluate("window.__sameDocument === true")
    await rows.first.get_by_role("link").first.click()
    await expect(page.get_by_test_id("error-code")).to_have_text("provider_error")
    await expect(page.get_by_test_id("error-raw")).to_contain_text(FAIL_MESSAGE)
    await shot(page, "04-failed-job-raw-error")

    # A running job: cancelled from its page, after the confirm step.
    send(sandbox, "A fox that takes its time [after=120]")
    await page.goto(f"{sandbox.urls.reelay}/console/jobs")
    await expect(rows).to_have_count(3)
    await expect(rows.first.get_by_test_id("status")).to_have_text("running", timeout=WAIT_MS)
    await rows.first.get_by_role("link").first.click()
    await expect(page.get_by_test_id("job-status")).to_have_text("running")
    cancel = page.get_by_test_id("action-cancel")
    confirm = cancel.get_by_role("button", name="Yes, cancel the job")
    await expect(confirm).to_be_hidden()  # behind the confirm step
    await cancel.locator("summary").click()
    await shot(page, "05-cancel-confirm")
    await confirm.click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Cancelled.")
    await expect(page.get_by_test_id("flash")).to_contain_text("credits are back")
    await expect(page.get_by_test_id("job-status")).to_have_text("cancelled")
    await expect(page.get_by_test_id("action-cancel")).to_have_count(0)
    await shot(page, "06-cancelled")

    await page.get_by_role("link", name="Overview").click()
    await expect(page.get_by_test_id("processes")).to_contain_text(sandbox.reelay.process_id if sandbox.reelay else "")
    await shot(page, "07-overview")
