"""The operator's view of a scripted run: three videos that succeed, one the provider fails, one cancelled. The same
numbers show in ``/metrics``, in ``reelay stats --json``, in the console's overview and in ``/stats``, and the
analytics outlive a restart."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import texts
from bot.app import Reelay
from bot.settings import Settings
from poller.jobs import JobStatus
from poller.version import VERSION
from tests.e2e.conftest import ALICE, BOB, SettingsFactory, bot_messages, running
from tests.fixtures.telegram import TelegramStandIn

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-token-for-tests-0123456789"
CONSOLE_TOKEN = "console-token-for-tests-0123456789ab"
PRICE = 10  # veo3_fast, 8 s, in the default price table
_ROW = re.compile(r"<tr[^>]*>\s*<td>([^<]+)</td>((?:\s*<td class=\"num\">[^<]*</td>){5})", re.S)


async def console_analytics(reelay: Reelay) -> dict[str, list[str]]:
    """The console overview's last-24-hours table: model -> [ended, succeeded, failed, cancelled, success]."""
    base = f"http://127.0.0.1:{reelay.http_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        signed_in = await client.post("/console/sign-in", data={"token": CONSOLE_TOKEN})
        assert signed_in.status_code == 303
        page = await client.get("/console/")
    assert page.status_code == 200
    table = page.text.split('data-testid="analytics"', 1)[1]
    return {
        model.strip(): [html.unescape(cell).strip() for cell in re.findall(r">([^<]*)</td>", cells)]
        for model, cells in _ROW.findall(table)
    }


def observed_settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(
        credits={"enabled": True, "initial_balance": 100},
        admin={"user_ids": [ALICE]},
        limits={"max_active_jobs_per_user": 10},
        http={"port": 0, "metrics_token": METRICS_TOKEN, "console_token": CONSOLE_TOKEN},
    )


async def run_script(reelay: Reelay, telegram: TelegramStandIn) -> None:
    """Three videos that succeed, one the provider fails, one cancelled while it runs."""
    tg = telegram.emulator

    async def jobs() -> list[Any]:
        return await reelay.jobs.jobs_for_user(ALICE, limit=10)

    for n in range(3):
        tg.send_text(ALICE, ALICE, f"a good video number {n} [polls=1]")
    tg.send_text(ALICE, ALICE, "a video the provider fails [fail] [polls=1]")
    await wait_until(lambda: _count_ended(jobs), 4)
    tg.send_text(ALICE, ALICE, "a video that takes its time [polls=500]")
    await wait_until(lambda: _count_status(jobs, JobStatus.RUNNING), 1)
    tg.send_text(ALICE, ALICE, "/cancel")
    await wait_until(lambda: _count_ended(jobs), 5)


async def _count_ended(jobs: Any) -> int:
    return sum(1 for job in await jobs() if job.status.terminal)


async def _count_status(jobs: Any, status: JobStatus) -> int:
    return sum(1 for job in await jobs() if job.status is status)


async def wait_until(count: Any, wanted: int, timeout: float = 40.0) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (found := await count()) < wanted:
        if loop.time() > deadline:
            raise AssertionError(f"{found} of {wanted} after {timeout} s")
        await asyncio.sleep(0.05)


async def scrape(reelay: Reelay, token: str | None = METRICS_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(f"http://127.0.0.1:{reelay.http_port}/metrics", headers=headers)


def series(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def stats_json(settings: Settings, tmp_path: Path) -> dict[str, Any]:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[telegram]\ntoken = "{settings.telegram.token.get_secret_value()}"\n'
        f'[redis]\nurl = "{settings.redis.url}"\n'
        f'[providers.kie]\napi_key = "{settings.providers.kie.api_key.get_secret_value()}"\n'
        '[storage]\nbackend = "local"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELAY_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "stats", "--config", str(config), "--since", "24h", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


async def test_a_scripted_run_shows_the_same_numbers_everywhere_and_survives_a_restart(
    make_settings: SettingsFactory, telegram: TelegramStandIn, tmp_path: Path
) -> None:
    settings = observed_settings(make_settings)
    async with running(settings) as reelay:
        await run_script(reelay, telegram)
        assert (await scrape(reelay, token=None)).status_code == 401
        assert (await scrape(reelay, token="wrong-token")).status_code == 401
        found = series((await scrape(reelay)).text)
        console = await console_analytics(reelay)

    model = {"model": "veo3_fast"}
    assert value(found, "reelay_build_info", version=VERSION) == 1
    assert value(found, "reelay_jobs_created_total", **model, source="telegram") == 5
    assert value(found, "reelay_jobs_finished_total", **model, status="succeeded", error="none") == 3
    assert value(found, "reelay_jobs_finished_total", **model, status="failed", error="provider_error") == 1
    assert value(found, "reelay_jobs_finished_total", **model, status="cancelled", error="none") == 1
    assert value(found, "reelay_job_total_seconds_count", **model, status="succeeded") == 3
    assert value(found, "reelay_job_generation_seconds_count", **model) == 4  # three videos, one provider failure
    assert value(found, "reelay_polls_total", provider="kie_veo", outcome="succeeded") == 3
    assert value(found, "reelay_polls_total", provider="kie_veo", outcome="failed") == 1
    assert value(found, "reelay_provider_request_seconds_count", provider="kie_veo", operation="submit") == 5
    assert value(found, "reelay_provider_request_seconds_count", provider="kie_veo", operation="download") == 3
    assert value(found, "reelay_credits_total", operation="reserved") == 5 * PRICE
    assert value(found, "reelay_credits_total", operation="captured") == 3 * PRICE
    assert value(found, "reelay_credits_total", operation="refunded") == 2 * PRICE
    assert value(found, "reelay_provider_cost_credits_total", provider="kie_veo", **model) == 3 * PRICE
    assert value(found, "reelay_delivery_bytes_total", store="s3") > 0
    assert value(found, "reelay_telegram_requests_total", method="sendVideo", outcome="ok") == 3
    assert value(found, "reelay_jobs_active", status="running") == 0
    assert value(found, "reelay_jobs_held") == 0

    stats = stats_json(settings, tmp_path)
    [veo] = stats["models"]
    assert (veo["model"], veo["jobs"], veo["succeeded"], veo["failed"], veo["cancelled"]) == ("veo3_fast", 5, 3, 1, 1)
    assert veo["success_rate"] == 0.6
    assert veo["errors"] == {"provider_error": 1}
    assert veo["cost_per_video"] == PRICE
    assert veo["generation_p50_s"] is not None
    assert veo["attempts_mean"] > 0
    assert console["veo3_fast"] == ["5", "3", "1", "1", "60.0 %"], "the console shows the same numbers"

    async with running(observed_settings(make_settings)) as restarted:
        again = stats_json(settings, tmp_path)
        assert (again["models"], again["totals"]) == (stats["models"], stats["totals"])
        telegram.emulator.send_text(ALICE, ALICE, "/stats")
        await telegram.emulator.wait_for_async(
            lambda: any("veo3_fast: 5 jobs, 60.0 % succeeded" in (m.text or "") for m in bot_messages(telegram, ALICE)),
            what="the admin's /stats",
        )
        telegram.emulator.send_text(BOB, BOB, "/stats")
        await telegram.emulator.wait_for_async(
            lambda: any(m.text == texts.ADMINS_ONLY for m in bot_messages(telegram, BOB)), what="the refusal"
        )
        fresh = series((await scrape(restarted)).text)
        assert value(fresh, "reelay_jobs_finished_total", **model, status="succeeded", error="none") == 0, (
            "metrics are per process; the analytics are the durable record"
        )
