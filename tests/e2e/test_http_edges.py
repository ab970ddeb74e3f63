"""Every HTTP endpoint of a whole Reelay refuses bad input with a 4xx naming the field, never a 500; bodies over
1 MiB get 413; access lines never carry a callback token."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.app import Reelay
from bot.http.telegram_webhook import SECRET_HEADER
from sandbox.serve import free_port
from tests.e2e.conftest import SettingsFactory, running

pytestmark = pytest.mark.e2e
TOKEN = "api-token-for-tests-0123456789abcdef"
SECRET = "webhook-secret-0123456789abcdef"
HOOK = "/telegram/hook"
MAX_ATTEMPTS = 20  # the e2e settings' poll.max_attempts


@dataclass
class Http:
    reelay: Reelay
    client: httpx.AsyncClient


@pytest.fixture
async def http(make_settings: SettingsFactory) -> AsyncIterator[Http]:
    port = free_port()
    settings = make_settings(
        telegram={"mode": "webhook", "webhook_secret": SECRET, "webhook_path": HOOK},
        http={"port": port, "public_url": f"http://127.0.0.1:{port}", "api_token": TOKEN},
    )
    headers = {"Authorization": f"Bearer {TOKEN}", SECRET_HEADER: SECRET}
    async with (
        running(settings) as reelay,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as client,
    ):
        yield Http(reelay, client)


def nested(depth: int, fields: bytes = b'"sessionId": 1, "taskId": "t1", "model": "veo3", "chatId": 1') -> bytes:
    """A JSON object whose "deep" field nests lists so that the whole body is ``depth`` levels deep."""
    return b"{" + fields + b', "deep": ' + b"[" * (depth - 1) + b"1" + b"]" * (depth - 1) + b"}"


BODY_ENDPOINTS = [HOOK, "/webhook/poll-video", "/sessions", "/callbacks/kie/Abc_123-xyz", "/v1/jobs"]


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_1_mib_is_refused_with_413_on_every_endpoint(http: Http, path: str, chunked: bool) -> None:
    payload = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    answer = await http.client.post(path, content=pieces() if chunked else payload)

    assert answer.status_code == 413
    error = answer.json()
    # The job API answers in its own error shape (README, "Job API").
    assert (error["error"] if path.startswith("/v1/") else error)["field"] == "body"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"sessionId": "", "taskId": "t1", "model": "veo3"}, 422, "sessionId"),
        ({"sessionId": "s" * 201, "taskId": "t1", "model": "veo3"}, 422, "sessionId"),
        ({"sessionId": 10**30, "taskId": "t1", "model": "veo3"}, 422, "sessionId"),
        ({"sessionId": "9" * 30, "taskId": "t1", "model": "veo3"}, 422, "sessionId"),
        ({"sessionId": 1.5, "taskId": "t1", "model": "veo3"}, 422, "sessionId"),
        ({"sessionId": [1], "taskId": "t1", "model": "veo3"}, 422, "sessionId"),
        ({"sessionId": 1, "taskId": "t1", "model": "veo3", "attempt": 0}, 422, "attempt"),
        ({"sessionId": 1, "taskId": "t1", "model": "veo3", "attempt": MAX_ATTEMPTS + 1}, 422, "attempt"),
        ({"sessionId": 1, "taskId": "t1", "model": "veo3", "attempt": 10**40}, 422, "attempt"),
        ({"sessionId": 1, "taskId": "t1", "model": "veo3", "attempt": True}, 422, "attempt"),
        ({"sessionId": 1, "taskId": "t" * 201, "model": "veo3"}, 422, "taskId"),
        ({"sessionId": 1, "taskId": "t1", "model": "m" * 101}, 422, "model"),
        ({"sessionId": 1, "taskId": "t1", "model": "veo3\udcff"}, 422, "model"),
        (nested(33), 400, "body"),
        (nested(5000), 400, "body"),
    ],
)
async def test_malformed_poll_video_fields_are_4xx_naming_the_field(
    http: Http, body: dict[str, Any] | bytes, status: int, field: str
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = await http.client.post("/webhook/poll-video", content=content)

    assert (answer.status_code, answer.json()["field"]) == (status, field)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"sessionId": "", "chatId": 1}, 422, "sessionId"),
        ({"sessionId": "s" * 201, "chatId": 1}, 422, "sessionId"),
        ({"sessionId": "s", "chatId": 10**30}, 422, "chatId"),
        ({"sessionId": "s", "chatId": "1"}, 422, "chatId"),
        (nested(40), 400, "body"),
    ],
)
async def test_malformed_session_fields_are_4xx_naming_the_field(
    http: Http, body: dict[str, Any] | bytes, status: int, field: str
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = await http.client.post("/sessions", content=content)

    assert (answer.status_code, answer.json()["field"]) == (status, field)


async def test_the_last_allowed_attempt_is_accepted(http: Http) -> None:
    answer = await http.client.post(
        "/webhook/poll-video", json={"sessionId": 1001, "taskId": "t-last", "model": "veo3", "attempt": MAX_ATTEMPTS}
    )

    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"null", "update_id"),
        (b"[]", "update_id"),
        (b'{"update_id": "1"}', "update_id"),
        (b'{"update_id": -1}', "update_id"),
        (b'{"update_id": 1, "message": "not a message"}', "body"),
        (b"{nope", "body"),
        (b"", "body"),
        (b"\xff\xfe\x00garbage", "body"),
        (nested(40, b'"update_id": 1'), "body"),
    ],
)
async def test_a_malformed_telegram_update_is_400(http: Http, content: bytes, field: str) -> None:
    answer = await http.client.post(HOOK, content=content)

    assert (answer.status_code, answer.json()["field"]) == (400, field)


ODD_BODIES = [
    b"",
    b"{nope",
    b"\xff\xfe\x00",
    b"1" * 5000,
    b'"' + b"\\udcff" + b'"',
    b'{"sessionId": "\\udcff", "taskId": "\\ud800", "model": "veo3", "chatId": 1}',
    b'{"sessionId": 1e999, "taskId": "t", "model": "veo3", "chatId": 1e999}',
    b'{"sessionId": {"a": 1}, "taskId": {"b": 2}, "model": [], "chatId": null, "attempt": -1}',
    b"[" * 100_000,
    b'{"update_id": 1, "message": {"message_id": "x", "chat": 5}}',
    b'{"update_id": 1, "callback_query": {"id": 1, "from": null}}',
]
ODD_PATHS = [
    ("POST", HOOK),
    ("POST", "/webhook/poll-video"),
    ("POST", "/sessions"),
    ("POST", "/callbacks/kie/" + "a" * 300),
    ("POST", "/callbacks/kie/%F0%9F%8E%AC"),
    ("POST", "/callbacks/kie/%7Bslot%7D"),
    ("GET", "/jobs/" + "j" * 300),
    ("GET", "/jobs/%7Bslot%7D"),
    ("GET", "/jobs/%00"),
]


async def test_no_odd_input_gets_a_500(http: Http) -> None:
    answers: dict[tuple[str, str, bytes], int] = {}
    for method, path in ODD_PATHS:
        for content_type in ("application/json", "text/plain", "multipart/form-data"):
            for body in ODD_BODIES if method == "POST" else [b""]:
                answer = await http.client.request(method, path, content=body, headers={"Content-Type": content_type})
                answers[(path, content_type, body[:40])] = answer.status_code

    assert {key: code for key, code in answers.items() if code >= 500} == {}


async def test_odd_job_ids_and_callback_tokens_are_404(http: Http) -> None:
    paths = ["/jobs/" + "j" * 300, "/jobs/%7Bslot%7D", "/callbacks/kie/" + "a" * 201, "/callbacks/kie/tok!en"]

    codes = [(await http.client.request("GET" if p.startswith("/jobs") else "POST", p)).status_code for p in paths]

    assert codes == [404, 404, 404, 404]


async def test_access_lines_never_carry_a_callback_token(http: Http, caplog: pytest.LogCaptureFixture) -> None:
    token = "Secret_Callback_Token_0123456789"
    await http.reelay.callback_tokens.register(token, "NoSuchJob01", 60)
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        answer = await http.client.post(f"/callbacks/kie/{token}?x=1", json={})

    lines = [record.getMessage() for record in caplog.records if record.name == "uvicorn.access"]
    assert answer.status_code == 200
    assert any("/callbacks/kie/***" in line for line in lines), lines
    assert not any(token in line for line in lines)
