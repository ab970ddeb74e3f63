"""``/v1/docs`` in a real browser with the internet cut off: the page needs nothing but Reelay."""

from __future__ import annotations

import pytest
from playwright.async_api import Route, expect

from bot.app import Reelay
from tests.e2e.browser_support import headless_chromium

pytestmark = pytest.mark.e2e


async def test_the_docs_page_lists_every_operation_offline(reelay: Reelay) -> None:
    base = f"http://127.0.0.1:{reelay.http_port}"
    outside: list[str] = []

    async def local_only(route: Route) -> None:
        if route.request.url.startswith(base):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    async with headless_chromium() as browser:
        page = await browser.new_page()
        await page.route("**/*", local_only)
        await page.goto(f"{base}/v1/docs")
        operations = page.locator("section.operation")
        await expect(operations).to_have_count(6)
        text = await page.locator("body").inner_text()
        for operation in (
            "post /v1/jobs",
            "get /v1/jobs/{job_id}/events",
            "delete /v1/jobs/{job_id}",
            "get /v1/models",
        ):
            assert operation.lower() in text.lower().replace("\n", " ").replace("  ", " "), operation
        await page.close()
    assert outside == []
