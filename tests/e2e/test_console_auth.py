"""Signing in to the operator console of a whole Reelay, over real HTTP: redirects, the cookie, the lockout."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from structlog.testing import capture_logs

from bot.app import Reelay, Role
from storage.keys import RedisKeys
from tests.e2e.conftest import SettingsFactory, running
from tests.e2e.console_support import TOKEN, base_url, console_settings, running_as, sign_in

pytestmark = pytest.mark.e2e
PROTECTED = [
    ("GET", "/console/"),
    ("GET", "/console/jobs?status=failed"),
    ("GET", "/console/jobs/abc"),
    ("GET", "/console/live/jobs"),
    ("GET", "/console/live/jobs/abc"),
    ("POST", "/console/jobs/abc/cancel"),
    ("POST", "/console/jobs/abc/rerun-delivery"),
    ("POST", "/console/jobs/abc/refund"),
]


@pytest.fixture
async def anonymous(make_settings: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    """A running Reelay with the console on, and a client that has not signed in."""
    settings = console_settings(make_settings)
    async with running(settings), httpx.AsyncClient(base_url=base_url(settings), timeout=10) as client:
        yield client


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_every_console_url_redirects_to_the_sign_in_page_without_a_session(
    anonymous: httpx.AsyncClient, method: str, path: str
) -> None:
    answer = await anonymous.request(method, path)

    assert answer.status_code == 303
    target = httpx.URL(answer.headers["location"])
    assert target.path == "/console/sign-in"
    assert target.params.get("next", path) == path  # the overview needs no "next"
    assert "Content-Security-Policy" in answer.headers


async def test_the_sign_in_page_and_its_stylesheet_need_no_session(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get("/console/sign-in")
    stylesheet = await anonymous.get("/console/static/console.css")

    assert page.status_code == 200
    assert 'name="token"' in page.text
    assert stylesheet.status_code == 200


async def test_the_other_endpoints_never_pass_through_the_consoles_middleware(anonymous: httpx.AsyncClient) -> None:
    await sign_in(anonymous)
    health = await anonymous.get("/healthz")  # the client sends no console cookie outside /console anyway
    job = await anonymous.get("/jobs/abc", headers={"Cookie": f"reelay_console={anonymous.cookies['reelay_console']}"})

    for answer in (health, job):
        assert "content-security-policy" not in answer.headers
        assert "set-cookie" not in answer.headers
        assert "vary" not in answer.headers


async def test_the_right_token_sets_an_httponly_strict_cookie_scoped_to_the_console(
    anonymous: httpx.AsyncClient,
) -> None:
    answer = await anonymous.post("/console/sign-in", data={"token": TOKEN, "next": "/console/jobs?status=failed"})
    cookie = answer.headers["set-cookie"]
    jobs = await anonymous.get("/console/jobs?status=failed")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/jobs?status=failed"
    flags = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert cookie.startswith("reelay_console=")
    assert {"httponly", "path", "max-age", "samesite"} <= set(flags)
    assert flags["samesite"].strip().lower() == "samesite=strict"
    assert flags["path"].strip() == "path=/console"
    assert "secure" not in flags  # plain http here; see the https test
    assert TOKEN not in cookie
    assert jobs.status_code == 200


async def test_sign_in_goes_back_only_to_console_pages(anonymous: httpx.AsyncClient) -> None:
    answer = await anonymous.post("/console/sign-in", data={"token": TOKEN, "next": "https://evil.test/console/"})

    assert answer.headers["location"] == "/console/"


async def test_a_wrong_token_sets_no_cookie_and_names_no_token(anonymous: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        wrong = await anonymous.post("/console/sign-in", data={"token": "not-the-token"})
        right = await sign_in(anonymous)

    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers
    assert "That is not the console token." in wrong.text
    assert right.status_code == 303
    lines = [line for line in logs if line["event"] == "console.sign_in"]
    assert [line["outcome"] for line in lines] == ["wrong_token", "signed_in"]
    assert all(TOKEN not in repr(line) and "not-the-token" not in repr(line) for line in logs)


async def test_signing_out_ends_the_session(anonymous: httpx.AsyncClient) -> None:
    await sign_in(anonymous)
    overview = await anonymous.get("/console/")
    csrf = overview.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]

    out = await anonymous.post("/console/sign-out", data={"csrf": csrf})
    after = await anonymous.get("/console/")

    assert out.status_code == 303
    assert after.status_code == 303


async def test_the_cookie_is_secure_when_the_public_url_is_https(make_settings: SettingsFactory) -> None:
    settings = console_settings(make_settings, http={"public_url": "https://console.reelay.test"})
    async with running(settings), httpx.AsyncClient(base_url=base_url(settings), timeout=10) as client:
        answer = await sign_in(client)

    assert answer.status_code == 303
    assert "secure" in [part.strip().lower() for part in answer.headers["set-cookie"].split(";")]


async def test_five_wrong_tokens_lock_the_address_out_even_with_the_right_token_on_every_process(
    make_settings: SettingsFactory,
) -> None:
    first, second = console_settings(make_settings), console_settings(make_settings)
    async with (
        running(first) as reelay,
        running_as(second, Role.POLLER),
        httpx.AsyncClient(base_url=base_url(first), timeout=10) as one,
        httpx.AsyncClient(base_url=base_url(second), timeout=10) as other,
    ):
        wrong = [(await one.post("/console/sign-in", data={"token": f"wrong-{n}"})).status_code for n in range(5)]
        sixth = await sign_in(one)
        elsewhere = await sign_in(other)
        ttl = await reelay.redis.ttl(RedisKeys().console_sign_in_failures("127.0.0.1"))

    assert wrong == [401] * 5
    assert sixth.status_code == 429
    assert "Try again in a minute" in sixth.text
    assert "set-cookie" not in sixth.headers
    assert elsewhere.status_code == 429
    assert 55 <= ttl <= 60


async def test_a_cookie_from_a_process_with_another_token_is_refused(make_settings: SettingsFactory) -> None:
    other_token = "another-console-token-0123456789abcdef"
    ours, theirs = console_settings(make_settings), console_settings(make_settings, http={"console_token": other_token})
    async with (
        running(ours),
        running_as(theirs, Role.POLLER),
        httpx.AsyncClient(base_url=base_url(ours), timeout=10) as client,
    ):
        await sign_in(client)
        same = await client.get("/console/")
        cookies = {"reelay_console": client.cookies["reelay_console"]}
        async with httpx.AsyncClient(base_url=base_url(theirs), cookies=cookies, timeout=10) as elsewhere:
            other = await elsewhere.get("/console/")

    assert same.status_code == 200
    assert other.status_code == 303


async def test_without_a_token_the_console_is_off(reelay: Reelay) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{reelay.http_port}", timeout=10) as client:
        answer = await client.get("/console/")
        health = await client.get("/healthz")

    assert answer.status_code == 404
    assert health.status_code == 200
