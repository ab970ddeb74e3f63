"""The job API (``/v1``) end to end: a real Reelay with real Redis, the KIE simulator, the Telegram emulator and S3."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from bot.app import Reelay, Role
from bot.cli import main
from sandbox import images
from storage.api_keys import RedisApiKeys
from tests.bot.test_settings import MINIMAL
from tests.e2e.api_support import api_client, new_key, parse_sse
from tests.e2e.conftest import SettingsFactory, running, videos_in
from tests.e2e.test_webhooks_out import events_at, eventually
from tests.fixtures.kie import KieStandIn
from tests.fixtures.telegram import TelegramStandIn
from tests.fixtures.webhook_receiver import Receiver
from webhooks.signing import new_secret

pytestmark = pytest.mark.e2e


async def test_a_job_streams_queued_running_succeeded_and_its_video_serves(
    reelay: Reelay, telegram: TelegramStandIn
) -> None:
    key = await new_key(reelay, "studio")
    async with api_client(reelay, key) as client:
        created = await client.post("/v1/jobs", json={"prompt": "A fox in the snow [polls=15]", "metadata": {"a": 1}})
        assert created.status_code == 202, created.text
        job = created.json()
        assert created.headers["location"] == f"/v1/jobs/{job['id']}"
        assert job["status"] == "queued"
        assert job["metadata"] == {"a": 1}

        streamed = await client.get(f"/v1/jobs/{job['id']}/events")
        assert streamed.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(streamed.text)
        statuses = [event["data"]["status"] for event in events]
        assert statuses[0] in ("queued", "running")
        assert statuses[-1] == "succeeded"
        assert "running" in statuses
        ids = [int(event["id"]) for event in events]
        assert ids == sorted(set(ids))
        assert all(event["event"] == "job.updated" for event in events)

        video = events[-1]["data"]["video"]
        assert video is not None
        served = await httpx.AsyncClient().get(video["url"])
        assert served.status_code == 200
        assert len(served.content) == video["size_bytes"]

        # Resuming after the last event: nothing more to send, the stream ends at once.
        again = await client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": str(ids[-1])})
        assert parse_sse(again.text) == []
        middle = await client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": str(ids[0])})
        assert [int(event["id"]) for event in parse_sse(middle.text)] == [ids[-1]]
    # A key without a chat: nothing was sent to Telegram.
    assert telegram.emulator.calls("sendVideo") == []
    assert telegram.emulator.calls("sendMessage") == []


async def test_errors_name_the_field_and_keys_see_only_their_own_jobs(reelay: Reelay) -> None:
    mine, theirs = await new_key(reelay, "mine"), await new_key(reelay, "theirs")
    async with api_client(reelay, mine) as client, api_client(reelay, theirs) as other:
        created = await client.post("/v1/jobs", json={"prompt": "A quiet lake [polls=50]"})
        job_id = created.json()["id"]
        assert (await client.get(f"/v1/jobs/{job_id}")).json()["id"] == job_id
        for response in (
            await other.get(f"/v1/jobs/{job_id}"),
            await other.delete(f"/v1/jobs/{job_id}"),
            await other.get(f"/v1/jobs/{job_id}/events"),
        ):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"
        assert (await other.get("/v1/jobs")).json() == {"jobs": [], "next_cursor": None}

        cases = [
            ({"prompt": ""}, "prompt"),
            ({"prompt": 5}, "prompt"),
            ({"prompt": "x", "model": "nope"}, "model"),
            ({"prompt": "x", "duration_s": 3}, "duration_s"),
            ({"prompt": "x", "aspect_ratio": "4:3"}, "aspect_ratio"),
            ({"prompt": "x", "callback_url": "ftp://example.com/"}, "callback_url"),
            ({"prompt": "x", "image_url": "not a url"}, "image_url"),
            ({"prompt": "x", "metadata": {"k": "v" * 3000}}, "metadata"),
            ({"prompt": "x", "metadata": [1]}, "metadata"),
            ({"prompt": "x", "surprise": 1}, "surprise"),
            ([1, 2], "body"),
        ]
        for body, field in cases:
            response = await client.post("/v1/jobs", json=body)
            assert response.status_code == 422, (body, response.text)
            error = response.json()["error"]
            assert error["field"] == field, (body, error)
            assert error["message"].startswith(field), error
        not_json = await client.post("/v1/jobs", content=b"{nope", headers={"content-type": "application/json"})
        assert not_json.status_code == 422
        assert not_json.json()["error"]["field"] == "body"
        deep = await client.post("/v1/jobs", content=b"[" * 100_000, headers={"content-type": "application/json"})
        assert 400 <= deep.status_code < 500
        assert deep.json()["error"]["field"] == "body"
        bad_limit = await client.get("/v1/jobs", params={"limit": 0})
        assert bad_limit.status_code == 422
        assert bad_limit.json()["error"]["field"] == "limit"
        bad_cursor = await client.get("/v1/jobs", params={"cursor": "garbage!"})
        assert bad_cursor.json()["error"]["field"] == "cursor"
    async with api_client(reelay, None) as anonymous, api_client(reelay, "rk_wrong") as wrong:
        for response in (await anonymous.get("/v1/jobs"), await wrong.get("/v1/models")):
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"


async def test_idempotency_key_makes_one_job_even_for_simultaneous_retries(reelay: Reelay) -> None:
    key = await new_key(reelay, "retrier")
    body = {"prompt": "A lighthouse at night [polls=50]"}
    async with api_client(reelay, key) as client:
        headers = {"Idempotency-Key": "order-1"}
        answers = await asyncio.gather(*(client.post("/v1/jobs", json=body, headers=headers) for _ in range(5)))
        assert sorted(answer.status_code for answer in answers) == [200, 200, 200, 200, 202]
        assert len({answer.json()["id"] for answer in answers}) == 1
        later = await client.post("/v1/jobs", json=body, headers=headers)
        assert (later.status_code, later.json()["id"]) == (200, answers[0].json()["id"])
        conflict = await client.post("/v1/jobs", json={"prompt": "Another"}, headers=headers)
        assert conflict.status_code == 409
        assert conflict.json()["error"]["code"] == "idempotency_conflict"
        listed = (await client.get("/v1/jobs")).json()["jobs"]
        assert [job["id"] for job in listed] == [answers[0].json()["id"]]


async def test_listing_pages_newest_first_and_filters_by_status(make_settings: SettingsFactory) -> None:
    async with running(make_settings(limits={"max_active_jobs_per_user": 4})) as reelay:
        await _listing_pages(reelay)


async def _listing_pages(reelay: Reelay) -> None:
    key = await new_key(reelay, "lister")
    async with api_client(reelay, key) as client:
        made = []
        for n in range(4):
            made.append((await client.post("/v1/jobs", json={"prompt": f"Scene {n} [polls=50]"})).json()["id"])
        refused = await client.post("/v1/jobs", json={"prompt": "One too many"})
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_in_progress"
        cancelled = await client.delete(f"/v1/jobs/{made[1]}")
        assert cancelled.status_code == 202
        assert cancelled.json()["status"] == "cancelled"
        again = await client.delete(f"/v1/jobs/{made[1]}")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "already_ended"
        made.append((await client.post("/v1/jobs", json={"prompt": "Scene 4 [polls=50]"})).json()["id"])

        seen, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/jobs", params=params)).json()
            assert len(page["jobs"]) <= 2
            seen += [job["id"] for job in page["jobs"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == made[::-1]
        only = (await client.get("/v1/jobs", params={"status": "cancelled"})).json()
        assert [job["id"] for job in only["jobs"]] == [made[1]]
        bad = await client.get("/v1/jobs", params={"status": "nope"})
        assert bad.json()["error"]["field"] == "status"


async def test_models_and_openapi(reelay: Reelay) -> None:
    from openapi_spec_validator import validate

    key = await new_key(reelay, "reader")
    async with api_client(reelay, key) as client:
        models = (await client.get("/v1/models")).json()["models"]
        assert models
        assert {"id", "label", "provider", "inputs", "durations_s", "aspect_ratios", "resolutions"} <= set(models[0])
        spec = (await client.get("/v1/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    validate(spec)
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "ErrorBody" in spec["components"]["schemas"]
    paths = spec["paths"]
    assert {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/events", "/models"} <= set(paths)
    assert {"get", "delete"} <= set(paths["/jobs/{job_id}"])


async def test_a_keys_jobs_are_charged_to_its_user_and_a_cancel_returns_the_credits(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(credits={"enabled": True, "initial_balance": 20})
    async with running(settings) as reelay:
        assert reelay.credits is not None
        key = await new_key(reelay, "paid", user_id=4242)
        async with api_client(reelay, key) as client:
            models = (await client.get("/v1/models")).json()["models"]
            assert all(model["prices"] for model in models)
            created = await client.post("/v1/jobs", json={"prompt": "A slow sunset [polls=100]"})
            assert created.status_code == 202
            assert await reelay.credits.balance(4242) < 20
            cancelled = await client.delete(f"/v1/jobs/{created.json()['id']}")
            assert cancelled.status_code == 202
            assert cancelled.json()["status"] == "cancelled"
            assert await reelay.credits.balance(4242) == 20

            await reelay.credits.grant(4242, -20)
            broke = await client.post("/v1/jobs", json={"prompt": "Anything"})
            assert broke.status_code == 402
            assert broke.json()["error"]["code"] == "insufficient_credits"


async def test_a_key_over_its_budget_gets_429_with_retry_after_and_a_revoked_key_401(
    make_settings: SettingsFactory,
) -> None:
    async with running(make_settings(api={"requests_per_minute": 3})) as reelay:
        key = await new_key(reelay, "busy")
        async with api_client(reelay, key) as client:
            answers = [await client.get("/v1/models") for _ in range(4)]
            assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
            assert int(answers[-1].headers["retry-after"]) >= 1
            assert answers[-1].json()["error"]["code"] == "rate_limited"
            keys = RedisApiKeys(reelay.redis, make_secret=new_secret, prefix=reelay.settings.redis.prefix)
            await keys.revoke("busy")
            assert (await client.get("/v1/models")).status_code == 401


async def test_a_key_made_with_the_cli_and_a_chat_gets_the_video_in_telegram_too(
    make_settings: SettingsFactory, telegram: TelegramStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chat = 5005
    telegram.emulator.add_user(chat)
    settings = make_settings()
    config = tmp_path / "config.toml"
    config.write_text(MINIMAL + f'[redis]\nurl = "{settings.redis.url}"\n')
    code = await asyncio.to_thread(
        main, ["api-keys", "create", "--name", "cli", "--chat-id", str(chat), "--config", str(config)]
    )
    assert code == 0
    found = re.search(r"key:\s+(rk_\S+)", capsys.readouterr().out)
    assert found is not None
    async with running(settings) as reelay, api_client(reelay, found.group(1)) as client:
        created = await client.post("/v1/jobs", json={"prompt": "A harbour at dawn [polls=2]"})
        assert created.status_code == 202
        events = parse_sse((await client.get(f"/v1/jobs/{created.json()['id']}/events")).text)
        assert events[-1]["data"]["status"] == "succeeded"
        assert await telegram.emulator.wait_for_async(lambda: videos_in(telegram, chat), what="the video")


async def test_a_job_held_by_another_process_streams_from_this_one(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    front, poller = Reelay(settings, Role.BOT), Reelay(settings, Role.POLLER)
    await front.start()
    await poller.start()
    try:
        assert front.worker is None  # the front polls nothing: every change it streams comes through Redis
        key = await new_key(front, "front")
        async with api_client(front, key) as client:
            created = await client.post("/v1/jobs", json={"prompt": "A train crossing a bridge [polls=15]"})
            streamed = await client.get(f"/v1/jobs/{created.json()['id']}/events")
        statuses = [event["data"]["status"] for event in parse_sse(streamed.text)]
        assert statuses[-1] == "succeeded"
        assert "running" in statuses
        held = await poller.jobs.get(created.json()["id"])
        assert held.owner in ("", poller.process_id)
    finally:
        await poller.stop()
        await front.stop()


async def test_an_image_url_is_fetched_by_the_engine_and_starts_the_video(reelay: Reelay, kie: KieStandIn) -> None:
    photo = images.jpeg(1280, 720)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {len(photo)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + photo)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    image_url = f"http://127.0.0.1:{port}/fox.jpg"  # http: the e2e settings allow private addresses
    try:
        key = await new_key(reelay, "photos")
        async with api_client(reelay, key) as client:
            created = await client.post("/v1/jobs", json={"prompt": "The fox starts running", "image_url": image_url})
            assert created.status_code == 202, created.text
            assert created.json()["options"]["image_url"] == image_url
            events = parse_sse((await client.get(f"/v1/jobs/{created.json()['id']}/events")).text)
        assert events[-1]["data"]["status"] == "succeeded"
    finally:
        server.close()
    [submitted] = kie.sim.submissions
    [url] = submitted["imageUrls"]
    assert kie.sim.inputs.fetched[url] == photo  # the provider got the very photo at the integrator's URL


async def test_an_api_jobs_callback_url_gets_its_events_signed_with_the_keys_secret(
    make_settings: SettingsFactory, receiver: Receiver
) -> None:
    async with running(make_settings(webhooks={"retry_delays_s": [0.2]})) as reelay:
        keys = RedisApiKeys(reelay.redis, make_secret=new_secret, prefix=reelay.settings.redis.prefix)
        key, secret = await keys.create("hooked")
        async with api_client(reelay, key) as client:
            body = {
                "prompt": "A kite over the dunes [polls=3]",
                "callback_url": receiver.base + "/cb",
                "metadata": {"n": 7},
            }
            created = await client.post("/v1/jobs", json=body)
            assert created.status_code == 202, created.text
            events = await eventually(
                lambda: len(events_at(receiver, "/cb", secret)) >= 3 and events_at(receiver, "/cb", secret), "events"
            )
            final = (await client.get(f"/v1/jobs/{created.json()['id']}")).json()
    assert sorted({event["type"] for event in events}) == ["job.created", "job.running", "job.succeeded"]
    assert events[-1]["data"] == final  # the webhook's data is exactly the API's job
    assert final["metadata"] == {"n": 7}
