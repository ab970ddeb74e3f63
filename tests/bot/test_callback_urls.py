"""A job's callbackUrl where it comes in: https, or plain http only with network.allow_private_addresses; the
message never repeats the URL (it may carry a token)."""

from __future__ import annotations

import pytest

from bot.callback_urls import callback_url_problem


def test_https_passes_and_plain_http_only_when_private_addresses_are_allowed() -> None:
    assert callback_url_problem("https://hooks.example.org/in?token=abc", allow_private_addresses=False) is None
    refused = callback_url_problem("http://hooks.example.org/in?token=abc", allow_private_addresses=False)
    assert refused is not None
    assert "network.allow_private_addresses" in refused
    assert "token=abc" not in refused
    assert callback_url_problem("http://127.0.0.1:9/in", allow_private_addresses=True) is None


@pytest.mark.parametrize(
    "url",
    ["ftp://hooks.example.org/x", "hooks.example.org/x", "https://", "https://h:port/x", "https://h/" + "x" * 2048],
)
def test_unusable_urls_are_refused_either_way(url: str) -> None:
    for allowed in (False, True):
        problem = callback_url_problem(url, allow_private_addresses=allowed)
        assert problem is not None
        assert url not in problem
