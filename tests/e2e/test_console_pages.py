"""The console's pages on a whole Reelay, over real HTTP: the jobs list's filters and search, a job's page (its
escaping), the overview, and the live feed."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from urllib.parse import quote

import httpx
import pytest

from bot.app import Reelay
from poller.errors import ErrorCode
from poller.jobs import Job, JobStatus, new_job_id
from storage.analytics import RedisAnalytics
from storage.registries import TaskIndex
from tests.e2e.conftest import ALICE, SettingsFactory
from tests.e2e.console_support import (
    Console,
    base_url,
    console_settings,
    events,
    next_event,
    sign_in,
    signed_in,
    store,
)
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
HOUR = 3600.0
LIMITS = httpx.Limits(max_connections=40)  # room for every live feed a process allows, and one more


@pytest.fixture
async def console(make_settings: SettingsFactory) -> AsyncIterator[Console]:
    async with signed_in(console_settings(make_settings)) as signed:
        yield signed


def ended(hours_ago: float = 0.0, **changes: object) -> Job:
    """A finished job created ``hours_ago`` hours ago (finished, so the running engine leaves it alone)."""
    at = time.time() - hours_ago * HOUR
    base = Job(
        id=new_job_id(),
        user_id=ALICE,
        chat_id=ALICE,
        model="veo3_fast",
        prompt="a fox",
        status=JobStatus.SUCCEEDED,
        created_at=at,
        updated_at=at + 30,
        transitions={"validating": at + 1, "running": at + 2, "delivering": at + 20, "succeeded": at + 30},
    )
    return base.replace(**changes)


def listed(page: httpx.Response) -> list[str]:
    """The job ids of a jobs page's rows, top to bottom."""
    return re.findall(r'<tr id="job-[^"]+" data-job-id="([^"]+)"', page.text)


async def test_the_list_is_newest_first_and_filters_by_state_model_user_process_and_time(console: Console) -> None:
    reelay = console.reelay
    old = await store(reelay, ended(5, model="veo3", user_id=7))
    failed = await store(reelay, ended(2, status=JobStatus.FAILED, error_code=ErrorCode.PROVIDER_ERROR, user_id=7))
    sora = await store(reelay, ended(1, model="sora-2-text-to-video", user_id=8, owner="poller-b"))
    newest = await store(reelay, ended(0.1, user_id=8))
    two_hours_ago = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 2.5 * HOUR))

    everything = await console.client.get("/console/jobs")
    by_status = await console.client.get("/console/jobs", params={"status": "failed"})
    by_model = await console.client.get("/console/jobs", params={"model": "sora-2-text-to-video"})
    by_user = await console.client.get("/console/jobs", params={"user": "7"})
    by_owner = await console.client.get("/console/jobs", params={"owner": "poller-b"})
    by_time = await console.client.get("/console/jobs", params={"from": two_hours_ago, "user": "7"})
    nonsense = await console.client.get("/console/jobs", params={"status": "exploded", "user": "x"})

    assert listed(everything) == [newest.id, sora.id, failed.id, old.id]
    assert listed(by_status) == [failed.id]
    assert listed(by_model) == [sora.id]
    assert listed(by_user) == [failed.id, old.id]
    assert listed(by_owner) == [sora.id]
    assert listed(by_time) == [failed.id]
    assert listed(nonsense) == listed(everything)
    assert "Left out of the filter: status" in nonsense.text
    assert 'data-testid="scan-stopped"' not in everything.text


async def test_a_row_shows_the_job_user_model_state_attempts_age_and_total_time(console: Console) -> None:
    at = time.time() - HOUR
    job = await store(console.reelay, ended(attempts=4, created_at=at, updated_at=at + 95))

    page = await console.client.get("/console/jobs")
    row = page.text.split(f'id="job-{job.id}"', 1)[1].split("</tr>", 1)[0]
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]

    assert cells[:5] == [job.id, str(ALICE), "veo3_fast", "succeeded", "4"]
    assert re.fullmatch(r"(59 min \d+ s|1 h 0 min)", cells[5])
    assert cells[6] == "1 min 35 s"


async def test_search_finds_a_job_by_its_id_and_by_its_provider_task_id(console: Console) -> None:
    reelay = console.reelay
    bound = await store(reelay, ended(provider="kie_veo", provider_task_id="veo_task_bound"))
    unbound = await store(reelay, ended(provider="kie_market", provider_task_id="market_task_unbound"))
    await TaskIndex(reelay.redis).bind("kie_veo", "veo_task_bound", bound.id)

    by_id = await console.client.get("/console/jobs", params={"q": bound.id})
    by_task = await console.client.get("/console/jobs", params={"q": "veo_task_bound"})
    by_scan = await console.client.get("/console/jobs", params={"q": " market_task_unbound "})
    missing = await console.client.get("/console/jobs", params={"q": "no_such_task"})

    assert by_id.headers["location"] == f"/console/jobs/{bound.id}"
    assert by_task.headers["location"] == f"/console/jobs/{bound.id}"
    assert by_scan.headers["location"] == f"/console/jobs/{unbound.id}"
    assert missing.status_code == 404
    assert "No job has the id or provider task id" in missing.text
    assert "the 2 most recent jobs were searched" in missing.text


async def test_a_job_page_shows_every_field_the_timeline_both_errors_and_the_session(console: Console) -> None:
    job = await store(
        console.reelay,
        ended(
            status=JobStatus.FAILED,
            provider="kie_veo",
            provider_task_id="veo_task_42",
            error_code=ErrorCode.PROVIDER_ERROR,
            error_raw="HTTP 200, code 501: Video generation failed: internal model error",
            cost=10,
            billing_state="reserved",
            transitions={"validating": time.time() + 1, "running": time.time() + 2, "failed": time.time() + 9},
        ),
    )

    page = await console.client.get(f"/console/jobs/{job.id}")

    assert page.status_code == 200
    for text in ("veo_task_42", "provider_error", "Video generation failed: internal model error", "a fox", "16:9"):
        assert text in page.text
    assert re.findall(r'<span class="status (\w+)">', page.text.split('data-testid="timeline"', 1)[1]) == [
        "created",
        "validating",
        "running",
        "failed",
    ]
    assert "10 credits, nothing reserved" in page.text  # stored directly: the ledger never saw it
    assert f"The job&#39;s chat is {ALICE}" not in page.text  # the session is still there: it is shown instead
    assert "Language" in page.text


async def test_a_hostile_prompt_and_raw_error_are_shown_as_text_never_as_markup(console: Console) -> None:
    job = await store(
        console.reelay,
        ended(
            prompt="<script>window.owned = 1</script> a fox",
            status=JobStatus.FAILED,
            error_code=ErrorCode.PROVIDER_ERROR,
            error_raw='<img src=x onerror="window.owned = 2">',
            model='"><svg onload=alert(1)>',
        ),
    )

    page = await console.client.get(f"/console/jobs/{job.id}")
    listing = await console.client.get("/console/jobs")

    for answer in (page, listing):
        assert "<script>window.owned" not in answer.text
        assert "<svg onload" not in answer.text
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert "&#34;&gt;&lt;svg onload=alert(1)&gt;" in answer.text
    assert "&lt;script&gt;window.owned = 1&lt;/script&gt; a fox" in page.text
    assert "&lt;img src=x onerror=&#34;window.owned = 2&#34;&gt;" in page.text
    assert "<img" not in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"


async def test_an_unknown_or_malformed_job_id_is_a_404_page(console: Console) -> None:
    unknown = await console.client.get("/console/jobs/unknownjob1")
    malformed = await console.client.get("/console/jobs/%3Cb%3E")

    assert unknown.status_code == 404
    assert malformed.status_code == 404
    assert "&lt;b&gt;" in malformed.text


async def test_the_overview_shows_active_jobs_the_last_day_the_balance_and_the_processes(
    console: Console, telegram: TelegramStandIn
) -> None:
    reelay = console.reelay
    telegram.emulator.send_text(ALICE, ALICE, "A slow fox [after=60]")
    await asyncio.sleep(0)
    await RedisAnalytics(reelay.redis).record(await store(reelay, ended(0.5)))
    await RedisAnalytics(reelay.redis).record(
        await store(reelay, ended(0.4, status=JobStatus.FAILED, error_code=ErrorCode.TIMEOUT))
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (counts := await reelay.jobs.active_counts())[JobStatus.RUNNING] != 1 or not await _holds_one(console):
        assert loop.time() < deadline, counts
        await asyncio.sleep(0.1)

    page = await console.client.get("/console/")

    assert page.status_code == 200
    counts_part = page.text.split('data-testid="active-counts"', 1)[1].split("</dl>", 1)[0]
    assert re.search(r">running</span></a></dt><dd>1</dd>", counts_part)
    analytics = page.text.split('data-testid="analytics"', 1)[1].split("</table>", 1)[0]
    assert "veo3_fast" in analytics
    assert "50.0 %" in analytics
    assert "timeout 1" in analytics
    assert re.search(r'data-testid="balance">\d', page.text)  # the KIE stand-in's account
    processes = page.text.split('data-testid="processes"', 1)[1].split("</table>", 1)[0]
    assert reelay.process_id in processes
    assert ">run<" in processes
    assert f'owner={quote(reelay.process_id)}">1</a>' in processes


async def _holds_one(console: Console) -> bool:
    (process,) = await console.reelay.leases.processes()
    return process.report.held_jobs == 1


async def test_the_live_feed_adds_a_new_job_and_follows_it_to_succeeded(
    console: Console, telegram: TelegramStandIn
) -> None:
    page = await console.client.get("/console/jobs")
    live_url = re.search(r'data-live="([^"]+)"', page.text)
    assert live_url is not None

    async with console.client.stream("GET", live_url.group(1).replace("&amp;", "&") + "&ids=") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        feed = events(stream)
        telegram.emulator.send_text(ALICE, ALICE, "A fox arriving live [polls=2]")
        added = await next_event(feed, "added")
        statuses = [re.search(r'data-status="(\w+)"', added["html"])]
        while "succeeded" not in [s.group(1) for s in statuses if s]:
            row = await next_event(feed, "row")
            assert row["id"] == added["id"]
            statuses.append(re.search(r'data-status="(\w+)"', row["html"]))

    assert [s.group(1) for s in statuses if s][-1] == "succeeded"


async def test_a_filtered_live_list_adds_a_new_job_once_it_reaches_the_state_shown(
    console: Console, telegram: TelegramStandIn
) -> None:
    page = await console.client.get("/console/jobs", params={"status": "failed"})
    live_url = re.search(r'data-live="([^"]+)"', page.text)
    assert live_url is not None

    async with console.client.stream("GET", live_url.group(1).replace("&amp;", "&") + "&ids=") as stream:
        feed = events(stream)
        telegram.emulator.send_text(ALICE, ALICE, "A fox that works [polls=1]")
        telegram.emulator.send_text(ALICE, ALICE, "A fox the provider refuses [polls=2] [fail]")
        added = await next_event(feed, "added")

    failed = await console.reelay.jobs.get(added["id"])
    assert failed.status is JobStatus.FAILED
    assert failed.prompt.endswith("[fail]")
    assert 'data-status="failed"' in added["html"]


async def test_a_job_pages_live_feed_sends_its_state_as_it_changes(console: Console, telegram: TelegramStandIn) -> None:
    telegram.emulator.send_text(ALICE, ALICE, "A fox for one page [polls=3]")
    job = (await _newest(console)).id

    async with console.client.stream("GET", f"/console/live/jobs/{job}") as stream:
        feed = events(stream)
        seen = [(await next_event(feed, "job"))["status"]]
        while seen[-1] != "succeeded":
            seen.append((await next_event(feed, "job"))["status"])

    assert seen[-1] == "succeeded"
    assert len(seen) >= 2  # at least one change arrived on the open stream


async def _newest(console: Console) -> Job:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not (jobs := await console.reelay.jobs.jobs_for_user(ALICE, limit=1)):
        assert loop.time() < deadline, "no job was created"
        await asyncio.sleep(0.05)
    return jobs[0]


async def test_live_feeds_are_bounded_per_process_and_end_when_it_stops(make_settings: SettingsFactory) -> None:
    settings = console_settings(make_settings)
    reelay = Reelay(settings)
    await reelay.start()
    stopped = False
    try:
        async with (
            httpx.AsyncClient(base_url=base_url(settings), timeout=10, limits=LIMITS) as client,
            AsyncExitStack() as streams,
        ):
            await sign_in(client)
            for _ in range(16):
                opened = await streams.enter_async_context(client.stream("GET", "/console/live/jobs"))
                assert opened.status_code == 200
            one_too_many = await client.get("/console/live/jobs")
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.wait_for(reelay.stop(), timeout=10)  # the 16 streams are still open
            stopped, stopped_in = True, loop.time() - started
    finally:
        if not stopped:
            await reelay.stop()

    assert one_too_many.status_code == 503
    assert one_too_many.headers["retry-after"] == "5"
    assert stopped_in < 5
