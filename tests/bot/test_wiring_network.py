"""The composition root's outbound network: proxy settings and variables turned into routes, and the one
combination botocore cannot carry (a SOCKS proxy for S3) stopped at start-up with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, load_settings
from bot.wiring import build_blob_store, build_network
from poller.errors import ConfigError
from storage.blobs_s3 import S3BlobStore
from tests.bot.test_settings import MINIMAL, write


def settings_with(tmp_path: Path, extra: str) -> Settings:
    return load_settings(write(tmp_path, MINIMAL + extra))


def test_a_socks_proxy_for_s3_stops_start_up_naming_the_setting(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, "[network]\nproxy_url = 'socks5://user:pw-secret@proxy:1080'\n")
    with pytest.raises(ConfigError) as caught:
        build_blob_store(settings)
    assert caught.value.key == "network.proxy_url"
    assert "NO_PROXY" in caught.value.message
    assert "pw-secret" not in str(caught.value)


def test_a_socks_proxy_is_fine_when_no_proxy_sends_s3_direct(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "minio.internal:9000")
    # MINIMAL ends in its [s3] section: the endpoint line continues it.
    settings = settings_with(
        tmp_path, "endpoint_url = 'http://minio.internal:9000'\n[network]\nproxy_url = 'socks5://proxy:1080'\n"
    )
    assert isinstance(build_blob_store(settings), S3BlobStore)


def test_a_socks_proxy_is_fine_with_local_storage(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, "[storage]\nbackend = 'local'\n[network]\nproxy_url = 'socks5://proxy:1080'\n")
    assert not isinstance(build_blob_store(settings), S3BlobStore)


def test_an_unusable_proxy_variable_is_a_configuration_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks4://proxy:1080")
    with pytest.raises(ConfigError) as caught:
        build_network(settings_with(tmp_path, ""))
    assert caught.value.key == "HTTPS_PROXY"


def test_the_network_follows_the_settings(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, "[network]\nproxy_url = 'http://proxy:3128'\nallow_private_addresses = true\n")
    network = build_network(settings)
    assert network.addresses.allow_private
    assert str(network.proxy_for("https://api.telegram.org/bot")) == "http://proxy:3128"
