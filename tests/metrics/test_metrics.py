"""The metrics Reelay exports: exactly the names, types and labels documented, counted from the core's events."""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from metrics import Metrics, PrometheusListener, Readings, metric_names, metrics_route, telegram_request_counter
from poller.errors import ErrorCode, JobError
from poller.events import CreditMove, JobSource, PollOutcome, ProviderOperation
from poller.jobs import Job, JobStatus

# The table: name -> (type, labels).
DOCUMENTED = {
    "reelay_build_info": ("gauge", {"version"}),
    "reelay_jobs_created": ("counter", {"model", "source"}),
    "reelay_jobs_finished": ("counter", {"model", "status", "error"}),
    "reelay_job_generation_seconds": ("histogram", {"model"}),
    "reelay_job_total_seconds": ("histogram", {"model", "status"}),
    "reelay_job_poll_attempts": ("histogram", {"model", "status"}),
    "reelay_polls": ("counter", {"provider", "outcome"}),
    "reelay_provider_request_seconds": ("histogram", {"provider", "operation"}),
    "reelay_provider_errors": ("counter", {"provider", "error"}),
    "reelay_jobs_active": ("gauge", {"status"}),
    "reelay_jobs_held": ("gauge", set()),
    "reelay_poll_lateness_seconds": ("histogram", set()),
    "reelay_telegram_requests": ("counter", {"method", "outcome"}),
    "reelay_delivery_bytes": ("counter", {"store"}),
    "reelay_credits": ("counter", {"operation"}),
    "reelay_provider_cost_credits": ("counter", {"provider", "model"}),
    "reelay_provider_balance": ("gauge", {"provider"}),
}


def test_every_documented_metric_exists_with_its_type_and_labels() -> None:
    metrics = Metrics()
    found = {family.name: family for family in metrics.registry.collect()}

    assert set(found) == set(DOCUMENTED)
    for name, (kind, _) in DOCUMENTED.items():
        assert found[name].type == kind, name
    for metric in vars(metrics).values():
        if not hasattr(metric, "labels"):
            continue
        name = metric.describe()[0].name
        labels = DOCUMENTED[name][1]
        if labels:
            metric.labels(**dict.fromkeys(labels, "x"))  # ValueError for any other label set
        else:
            with pytest.raises(ValueError, match="No label names"):
                metric.labels()
    assert "reelay_jobs_created_total" in metric_names(metrics)
    assert "reelay_job_total_seconds_bucket" in metric_names(metrics)


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    from prometheus_client import generate_latest

    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Mapping[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def ended_job(status: JobStatus, **changes: object) -> Job:
    now = time.time()
    job = Job(
        id="j1",
        user_id=1,
        chat_id=1,
        model="veo3_fast",
        prompt="p",
        provider="kie_veo",
        status=status,
        attempts=4,
        created_at=now - 100,
        updated_at=now,
        transitions={"validating": now - 95, "running": now - 90, "delivering": now - 10, status.value: now},
    )
    return job.replace(**changes)


async def test_the_listener_counts_what_the_core_reports() -> None:
    metrics = Metrics()
    listener = PrometheusListener(metrics, store="s3", price_of=lambda model, seconds, kind: 30)
    job = ended_job(JobStatus.SUCCEEDED)

    await listener.job_created(job, JobSource.TELEGRAM)
    listener.polled("kie_veo", PollOutcome.RUNNING, 0.05, None)
    listener.polled("kie_veo", PollOutcome.TRANSIENT_ERROR, 0.2, JobError(ErrorCode.PROVIDER_UNAVAILABLE, "502"))
    listener.provider_called("kie_veo", ProviderOperation.SUBMIT, 1.2, None)
    listener.step_started(0.3)
    listener.video_stored(1_000_000)
    listener.credits_moved(CreditMove.RESERVED, 30)
    listener.credits_moved(CreditMove.CAPTURED, 30)
    await listener.job_ended(job)
    failed = ended_job(JobStatus.FAILED, error_code=ErrorCode.MODERATION_REJECTED)
    del failed.transitions["delivering"]  # the provider refused it: its verdict came at the failure
    await listener.job_ended(failed)

    found = samples(metrics)
    assert value(found, "reelay_jobs_created_total", model="veo3_fast", source="telegram") == 1
    assert value(found, "reelay_polls_total", provider="kie_veo", outcome="running") == 1
    assert value(found, "reelay_polls_total", provider="kie_veo", outcome="transient_error") == 1
    assert value(found, "reelay_provider_errors_total", provider="kie_veo", error="provider_unavailable") == 1
    assert value(found, "reelay_provider_request_seconds_count", provider="kie_veo", operation="poll") == 2
    assert value(found, "reelay_provider_request_seconds_count", provider="kie_veo", operation="submit") == 1
    assert value(found, "reelay_poll_lateness_seconds_count") == 1
    assert value(found, "reelay_delivery_bytes_total", store="s3") == 1_000_000
    assert value(found, "reelay_credits_total", operation="reserved") == 30
    assert value(found, "reelay_credits_total", operation="captured") == 30
    assert value(found, "reelay_jobs_finished_total", model="veo3_fast", status="succeeded", error="none") == 1
    assert (
        value(found, "reelay_jobs_finished_total", model="veo3_fast", status="failed", error="moderation_rejected") == 1
    )
    assert value(found, "reelay_job_generation_seconds_sum", model="veo3_fast") == pytest.approx(85 + 95, abs=0.1)
    assert value(found, "reelay_job_poll_attempts_sum", model="veo3_fast", status="succeeded") == 4
    assert value(found, "reelay_provider_cost_credits_total", provider="kie_veo", model="veo3_fast") == 30


def test_bot_api_answers_are_counted_by_method_and_outcome() -> None:
    metrics = Metrics()
    count = telegram_request_counter(metrics)
    for method, status in (("sendMessage", 200), ("sendMessage", 429), ("sendVideo", 400), ("getMe", None)):
        count(method, status)

    found = samples(metrics)
    assert value(found, "reelay_telegram_requests_total", method="sendMessage", outcome="ok") == 1
    assert value(found, "reelay_telegram_requests_total", method="sendMessage", outcome="retry_after") == 1
    assert value(found, "reelay_telegram_requests_total", method="sendVideo", outcome="error") == 1
    assert value(found, "reelay_telegram_requests_total", method="getMe", outcome="error") == 1


async def test_the_route_asks_for_its_token_and_reads_redis_at_most_every_five_seconds() -> None:
    metrics = Metrics()
    reads: list[float] = []

    async def active_counts() -> Mapping[str, int]:
        reads.append(time.monotonic())
        return {"running": 7, "queued": 1}

    async def balance() -> float:
        return 123.5

    readings = Readings(active_counts=active_counts, held=lambda: 3, balance=balance, balance_refresh_s=300)
    app = Starlette(routes=[metrics_route(metrics, readings, token="t" * 32, version="9.9.9")])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reelay") as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        first = await client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32})
        await client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32})

    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/plain")
    assert len(reads) == 1, "a second scrape within five seconds reads Redis no more"
    found = {
        (s.name, frozenset(s.labels.items())): s.value
        for f in text_string_to_metric_families(first.text)
        for s in f.samples
    }
    assert value(found, "reelay_jobs_active", status="running") == 7
    assert value(found, "reelay_jobs_held") == 3
    assert value(found, "reelay_provider_balance", provider="kie") == 123.5
    assert value(found, "reelay_build_info", version="9.9.9") == 1
