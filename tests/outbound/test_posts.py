"""POSTs to URLs from outside: the address check direct and through a proxy, no redirects followed, bad URLs."""

from __future__ import annotations

import pytest

from outbound.addresses import AddressPolicy
from outbound.errors import AddressRefused
from outbound.posts import UntrustedPosts
from outbound.proxies import Proxies
from outbound.untrusted import UntrustedUrl
from tests.fixtures.proxies import HttpProxy
from tests.fixtures.webhook_receiver import Receiver
from webhooks.sender import post_timeout

pytestmark = pytest.mark.integration


async def post_once(proxies: Proxies, policy: AddressPolicy, url: str) -> int:
    posts = UntrustedPosts(proxies, policy, timeout=post_timeout(5))
    try:
        return (await posts.post(url, b'{"a":1}', {"Content-Type": "application/json"})).status
    finally:
        await posts.aclose()


async def test_through_a_proxy_the_target_is_checked_before_the_proxy_is_asked(
    http_proxy: HttpProxy, receiver: Receiver
) -> None:
    proxies = Proxies(http_proxy.url)

    with pytest.raises(AddressRefused) as caught:
        await post_once(proxies, AddressPolicy(), receiver.url + "?token=t0k")
    assert http_proxy.seen == []
    assert caught.value.url == receiver.url  # without its query

    assert await post_once(proxies, AddressPolicy(allow_private=True), receiver.url) == 204
    assert http_proxy.targets("POST") == [receiver.url]
    assert [request.body for request in receiver.received] == [b'{"a":1}']


async def test_a_redirect_is_an_answer_never_followed(receiver: Receiver) -> None:
    receiver.statuses = [307]

    assert await post_once(Proxies(), AddressPolicy(allow_private=True), receiver.url) == 307
    assert len(receiver.received) == 1


@pytest.mark.parametrize("url", ["ftp://hooks.test/x", "https:///nohost", "http://[::1"])
async def test_unusable_urls_are_refused_before_any_connection(url: str) -> None:
    with pytest.raises(UntrustedUrl):
        await post_once(Proxies(), AddressPolicy(allow_private=True), url)
