"""The address policy for URLs from outside: which addresses are refused and why, and the filtering resolver."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest
from aiohttp import ThreadedResolver

from outbound import AddressPolicy, AddressRefused, FilteringResolver, refusal


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("fec0::1", "site-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "private"),  # 240/4 counts as private (and reserved) in the standard library
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "an IPv4-mapped IPv6 address"),
        ("::ffff:8.8.8.8", "an IPv4-mapped IPv6 address"),
        ("2002:a00:5::1", "a 6to4 address of a private one"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo tunnel address"),
        ("64:ff9b::a00:5", "reserved"),  # NAT64 of 10.0.0.5
        ("::127.0.0.1", "reserved"),  # IPv4-compatible
    ],
)
def test_addresses_that_are_not_public_are_refused_with_a_reason(address: str, reason: str) -> None:
    assert refusal(ip_address(address)) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "2a00:1450:4001:80b::200e"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ip_address(address)) is None


def test_allow_private_lifts_the_check_and_allowed_networks_pass() -> None:
    assert AddressPolicy(allow_private=True).refusal(ip_address("127.0.0.1")) is None
    policy = AddressPolicy(allowed=(ip_network("10.20.0.0/16"),))
    assert policy.refusal(ip_address("10.20.3.4")) is None
    assert policy.refusal(ip_address("10.21.3.4")) == "private"


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "::1", "[fe80::1%eth0]"])
def test_a_literal_host_is_checked_without_resolving(host: str) -> None:
    with pytest.raises(AddressRefused) as caught:
        AddressPolicy().check_host(host)
    assert caught.value.host == host


def test_a_name_is_left_to_the_resolver() -> None:
    AddressPolicy().check_host("localhost")  # no lookup here; the resolver checks it as it connects


async def test_the_resolver_refuses_a_name_with_no_allowed_address() -> None:
    resolver = FilteringResolver(AddressPolicy(), ThreadedResolver())
    try:
        with pytest.raises(AddressRefused, match=r"localhost is 127\.0\.0\.1: loopback"):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()


async def test_the_resolver_hands_on_only_allowed_addresses() -> None:
    resolver = FilteringResolver(AddressPolicy(allowed=(ip_network("127.0.0.0/8"),)), ThreadedResolver())
    try:
        [found] = await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()
    assert found["host"] == "127.0.0.1"


async def test_checking_a_resolved_name_refuses_if_any_address_is_not_public() -> None:
    with pytest.raises(AddressRefused, match="loopback"):
        await AddressPolicy().check_resolved("localhost", 80)
    await AddressPolicy(allow_private=True).check_resolved("localhost", 80)
    with pytest.raises(AddressRefused, match="private"):
        await AddressPolicy().check_resolved("10.0.0.5", 80)  # a literal: no lookup at all
