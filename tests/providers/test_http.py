"""The shared httpx client factory."""

from __future__ import annotations

import pytest

from providers.http import USER_AGENT, make_http_client


async def test_client_identifies_itself_and_times_out_connects_sooner_than_reads() -> None:
    async with make_http_client(timeout_s=30.0, max_connections=50) as client:
        assert client.headers["User-Agent"] == USER_AGENT == "reelay/0.1"
        assert client.timeout.connect == 5.0
        assert client.timeout.read == 30.0
        assert client.timeout.pool == 30.0


async def test_short_timeouts_are_not_stretched() -> None:
    async with make_http_client(timeout_s=0.5, max_connections=1) as client:
        assert client.timeout.connect == 0.5


@pytest.mark.parametrize(("timeout_s", "max_connections"), [(0, 10), (10, 0)])
def test_nonsense_limits_are_refused(timeout_s: float, max_connections: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        make_http_client(timeout_s, max_connections)
