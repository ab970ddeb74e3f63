"""Which proxy each URL goes through: network.proxy_url, the standard variables, NO_PROXY; passwords never shown."""

from __future__ import annotations

import pytest

from outbound import Proxies, Proxy, ProxyNotSupported, ProxyUrlError, without_credentials


def test_the_configured_proxy_carries_http_and_https() -> None:
    proxies = Proxies("http://proxy.internal:3128")
    for url in ("http://cdn.example.net/v.mp4", "https://api.kie.ai/api/v1/veo/generate"):
        proxy = proxies.for_url(url)
        assert proxy is not None
        assert (proxy.scheme, proxy.host, proxy.port) == ("http", "proxy.internal", 3128)


def test_without_a_setting_or_variables_every_call_goes_direct() -> None:
    proxies = Proxies(None)
    assert not proxies.any
    assert proxies.for_url("https://api.telegram.org/bot") is None


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "https_proxy"])
def test_the_environment_gives_the_proxy_per_scheme(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "http://egress:8080")
    monkeypatch.setenv("HTTP_PROXY", "http://plain-egress:8080")
    proxies = Proxies(None)
    assert str(proxies.for_url("https://api.kie.ai/x")) == "http://egress:8080"
    assert str(proxies.for_url("http://cdn.example.net/x")) == "http://plain-egress:8080"


def test_all_proxy_covers_both_schemes_and_a_bare_host_port_means_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", "egress:8080")
    proxies = Proxies(None)
    assert str(proxies.for_url("https://api.kie.ai/x")) == "http://egress:8080"
    assert str(proxies.for_url("http://cdn.example.net/x")) == "http://egress:8080"


def test_the_setting_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://egress:8080")
    assert (
        str(Proxies("socks5://socks.internal:1080").for_url("https://api.kie.ai/x")) == "socks5://socks.internal:1080"
    )


@pytest.mark.parametrize(
    ("no_proxy", "url", "direct"),
    [
        ("api.kie.ai", "https://api.kie.ai/x", True),
        ("kie.ai", "https://api.kie.ai/x", True),  # a domain covers its subdomains
        (".kie.ai", "https://api.kie.ai/x", True),
        ("127.0.0.1:9000", "http://127.0.0.1:9000/x", True),
        ("127.0.0.1:9000", "http://127.0.0.1:9001/x", False),
        ("*", "https://api.telegram.org/x", True),
        ("s3.amazonaws.com", "https://api.telegram.org/x", False),
    ],
)
def test_no_proxy_sends_listed_hosts_direct_whether_the_proxy_is_set_or_inherited(
    monkeypatch: pytest.MonkeyPatch, no_proxy: str, url: str, direct: bool
) -> None:
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert (Proxies("http://proxy:3128").for_url(url) is None) is direct
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    assert (Proxies(None).for_url(url) is None) is direct


def test_a_password_is_never_shown() -> None:
    proxy = Proxy.parse("http://alice:s3cr%40t@proxy:3128")
    assert proxy.password == "s3cr@t"
    assert proxy.shown == "http://alice:***@proxy:3128"
    assert "s3cr" not in repr(proxy) + str(proxy)
    assert "s3cr" not in repr(Proxies(proxy.url).describe())


@pytest.mark.parametrize(("url", "source"), [("ftp://proxy:21", "network.proxy_url"), ("http://", "network.proxy_url")])
def test_an_unusable_proxy_url_names_its_setting_and_never_echoes_it(url: str, source: str) -> None:
    with pytest.raises(ProxyUrlError) as caught:
        Proxies(url)
    assert caught.value.source == source
    assert url not in str(caught.value)


def test_an_unusable_proxy_variable_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks4://user:pw@proxy:1080")
    with pytest.raises(ProxyUrlError) as caught:
        Proxies(None)
    assert caught.value.source == "HTTPS_PROXY"
    assert "pw" not in str(caught.value)


def test_botocore_gets_an_http_proxy_or_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Proxies("http://u:p@proxy:3128").botocore_proxies("https://s3.us-east-1.amazonaws.com") == {
        "http": "http://u:p@proxy:3128",
        "https": "http://u:p@proxy:3128",
    }
    assert Proxies(None).botocore_proxies("https://s3.us-east-1.amazonaws.com") == {}
    with pytest.raises(ProxyNotSupported, match=r"socks5://u:\*\*\*@proxy:1080 is a SOCKS proxy") as caught:
        Proxies("socks5://u:p@proxy:1080").botocore_proxies("http://127.0.0.1:9000")
    assert ":p@" not in str(caught.value)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1:9000")
    assert Proxies("socks5://proxy:1080").botocore_proxies("http://127.0.0.1:9000") == {}


def test_credentials_in_quoted_urls_are_masked() -> None:
    text = "407, message='Proxy Authentication Required', url='http://alice:s3cret@proxy:3128' via socks5h://b:c@h:1"
    masked = without_credentials(text)
    assert "s3cret" not in masked
    assert ":c@" not in masked
    assert "http://***@proxy:3128" in masked
    assert without_credentials("https://cdn.example.net/a@b.mp4") == "https://cdn.example.net/a@b.mp4"
