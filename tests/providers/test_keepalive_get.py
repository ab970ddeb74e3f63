"""The keep-alive GET path against scripted HTTP servers on loopback: framing, reuse, stale connections,
timeouts, cancellation, limits, TLS. (Ordinary answers through ApiClient are in test_api_client.py.)"""

from __future__ import annotations

import asyncio
import gzip
import ssl

import pytest
import trustme

from providers.api_types import MAX_BODY_BYTES, ApiTransportError, ApiUrlError
from providers.keepalive_get import KeepAliveGets
from tests.fixtures.scripted_http import Peer, Serve, answer, plain


async def test_the_request_carries_headers_and_quoted_params_and_the_connection_is_reused(serve: Serve) -> None:
    server = await serve(plain)
    async with _client() as client:
        for task_id in ("a b&c=d", "é/?"):
            response = await client.get(
                f"{server.url}/api/record-info", headers={"Authorization": "Bearer k"}, params={"taskId": task_id}
            )
            assert (response.status, response.body) == (200, b'{"ok":true}')
    assert len(server.peers) == 1  # kept alive
    first, second = server.requests
    assert first.startswith(b"GET /api/record-info?taskId=a%20b%26c%3Dd HTTP/1.1\r\n")
    assert second.startswith(b"GET /api/record-info?taskId=%C3%A9%2F%3F HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Bearer k\r\n" in first
    assert f"\r\nHost: {server.url.removeprefix('http://')}\r\n".encode() in first
    assert b"\r\nUser-Agent: test\r\n" in first


async def test_a_chunked_answer_and_its_retry_after_are_read(serve: Serve) -> None:
    async def chunked(head: bytes, peer: Peer) -> None:
        await peer.send(b"HTTP/1.1 429 Too Many\r\nTransfer-Encoding: chunked\r\nRetry-After:  7 \r\n\r\n")
        await peer.send(b"5\r\nhello\r\n")
        await peer.send(b"6\r\n world\r\n0\r\n\r\n")

    server = await serve(chunked)
    async with _client() as client:
        response = await client.get(f"{server.url}/x", headers={})
        again = await client.get(f"{server.url}/x", headers={})
    assert (response.status, response.retry_after, response.body) == (429, "7", b"hello world")
    assert again.body == b"hello world"
    assert len(server.peers) == 1


async def test_an_answer_without_a_length_ends_at_close_and_its_connection_is_not_reused(serve: Serve) -> None:
    async def until_close(head: bytes, peer: Peer) -> None:
        await peer.send(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        peer.close()

    server = await serve(until_close)
    async with _client() as client:
        assert (await client.get(f"{server.url}/x", headers={})).body == b"all of it"
        assert (await client.get(f"{server.url}/x", headers={})).body == b"all of it"
    assert len(server.peers) == 2


async def test_connection_close_is_honoured(serve: Serve) -> None:
    async def closing(head: bytes, peer: Peer) -> None:
        await peer.send(answer(headers="Connection: close\r\n"))

    server = await serve(closing)
    async with _client() as client:
        await client.get(f"{server.url}/x", headers={})
        await client.get(f"{server.url}/x", headers={})
    assert len(server.peers) == 2


async def test_an_informational_answer_is_skipped(serve: Serve) -> None:
    async def early_hints(head: bytes, peer: Peer) -> None:
        await peer.send(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + answer(b"final"))

    server = await serve(early_hints)
    async with _client() as client:
        response = await client.get(f"{server.url}/x", headers={})
    assert (response.status, response.body) == (200, b"final")


async def test_gzip_is_decoded_and_an_unknown_encoding_refused(serve: Serve) -> None:
    async def encoded(head: bytes, peer: Peer) -> None:
        if b"/gzip" in head:
            await peer.send(answer(gzip.compress(b"unzipped"), headers="Content-Encoding: gzip\r\n"))
        else:
            await peer.send(answer(b"????", headers="Content-Encoding: br\r\n"))

    server = await serve(encoded)
    async with _client() as client:
        assert (await client.get(f"{server.url}/gzip", headers={})).body == b"unzipped"
        with pytest.raises(ApiTransportError, match="br") as caught:
            await client.get(f"{server.url}/br", headers={})
    assert caught.value.sent is True
    assert b"\r\nAccept-Encoding: gzip, deflate\r\n" in server.requests[0]


async def test_a_gzip_bomb_is_refused(serve: Serve) -> None:
    bomb = gzip.compress(b"0" * (MAX_BODY_BYTES + 10))

    async def bombing(head: bytes, peer: Peer) -> None:
        await peer.send(answer(bomb, headers="Content-Encoding: gzip\r\n"))

    server = await serve(bombing)
    async with _client() as client:
        with pytest.raises(ApiTransportError, match="over"):
            await client.get(f"{server.url}/x", headers={})


async def test_a_malformed_answer_fails_and_the_next_call_gets_a_new_connection(serve: Serve) -> None:
    async def garbage_first(head: bytes, peer: Peer) -> None:
        await peer.send(b"SMTP ready\r\n\r\n" if len(server.requests) == 1 else answer())

    server = await serve(garbage_first)
    async with _client() as client:
        with pytest.raises(ApiTransportError, match="malformed") as caught:
            await client.get(f"{server.url}/x", headers={})
        assert caught.value.sent is True
        assert (await client.get(f"{server.url}/x", headers={})).status == 200
    assert len(server.peers) == 2


async def test_a_kept_alive_connection_closed_by_the_server_is_retried_once_on_a_new_one(serve: Serve) -> None:
    async def drop_second_request(head: bytes, peer: Peer) -> None:
        if peer.index == 0 and len(peer.requests) == 2:
            peer.close()  # the keep-alive race: closed just as the request arrived, no answer
            return
        await peer.send(answer())

    server = await serve(drop_second_request)
    async with _client() as client:
        await client.get(f"{server.url}/x", headers={})
        response = await client.get(f"{server.url}/x", headers={})
    assert response.status == 200
    assert [len(peer.requests) for peer in server.peers] == [2, 1]


async def test_a_new_connection_closed_before_an_answer_is_not_retried(serve: Serve) -> None:
    async def drop(head: bytes, peer: Peer) -> None:
        peer.close()

    server = await serve(drop)
    async with _client() as client:
        with pytest.raises(ApiTransportError, match="closed before an answer") as caught:
            await client.get(f"{server.url}/x", headers={})
    assert caught.value.sent is True
    assert len(server.requests) == 1


async def test_a_connection_closed_mid_answer_fails(serve: Serve) -> None:
    async def half(head: bytes, peer: Peer) -> None:
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        peer.close()

    server = await serve(half)
    async with _client() as client:
        with pytest.raises(ApiTransportError, match="mid-answer") as caught:
            await client.get(f"{server.url}/x", headers={})
    assert caught.value.sent is True


async def test_a_silent_server_times_out_and_its_connection_is_dropped(serve: Serve) -> None:
    async def stall_first(head: bytes, peer: Peer) -> None:
        if len(server.requests) == 1:
            await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")  # then silence
            return
        await peer.send(answer())

    server = await serve(stall_first)
    async with _client(timeout_s=0.3) as client:
        with pytest.raises(ApiTransportError, match=r"no complete answer within 0\.3 s") as caught:
            await client.get(f"{server.url}/x", headers={})
        assert caught.value.sent is True
        assert (await client.get(f"{server.url}/x", headers={})).body == b'{"ok":true}'
    assert len(server.peers) == 2


async def test_a_cancelled_call_never_hands_its_late_answer_to_the_next(serve: Serve) -> None:
    async def slow_first(head: bytes, peer: Peer) -> None:
        if b"/first" in head:
            await asyncio.sleep(0.2)
            await peer.send(answer(b"first"))
        else:
            await peer.send(answer(b"second"))

    server = await serve(slow_first)
    async with _client(max_connections=1) as client:
        first = asyncio.create_task(client.get(f"{server.url}/first", headers={}))
        await asyncio.sleep(0.05)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert (await client.get(f"{server.url}/second", headers={})).body == b"second"
        await asyncio.sleep(0.3)
        assert server.open_now == 1  # the cancelled exchange's connection was closed, not left open
    assert len(server.peers) == 2


async def test_connections_are_bounded_and_waiting_too_long_was_never_sent(serve: Serve) -> None:
    async def held(head: bytes, peer: Peer) -> None:
        if b"/hold" in head:
            await asyncio.sleep(0.25)  # well inside the 0.4 s deadline
        await peer.send(answer())

    server = await serve(held)
    async with _client(max_connections=1, timeout_s=0.4) as client:
        holder = asyncio.create_task(client.get(f"{server.url}/hold", headers={}))
        await asyncio.sleep(0.05)
        next_in_line = asyncio.create_task(client.get(f"{server.url}/hold", headers={}))
        await asyncio.sleep(0.05)
        # Both ahead of it hold the one connection until ~0.5 s: more than its 0.4 s of waiting.
        with pytest.raises(ApiTransportError, match="no free connection") as caught:
            await client.get(f"{server.url}/x", headers={})
        assert caught.value.sent is False
        assert [r.status for r in await asyncio.gather(holder, next_in_line)] == [200, 200]
        await asyncio.gather(*(client.get(f"{server.url}/x", headers={}) for _ in range(10)))
    assert server.most_open == 1


async def test_a_trickling_answer_ends_at_the_deadline(serve: Serve) -> None:
    async def trickle(head: bytes, peer: Peer) -> None:
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):  # a byte every 50 ms: never silent, 5 s in all
            await peer.send(b".")
            await asyncio.sleep(0.05)

    server = await serve(trickle)
    loop = asyncio.get_running_loop()
    async with _client(timeout_s=0.3) as client:
        started = loop.time()
        with pytest.raises(ApiTransportError, match=r"no complete answer within 0\.3 s") as caught:
            await client.get(f"{server.url}/x", headers={})
        assert loop.time() - started < 1.0
    assert caught.value.sent is True


async def test_trickling_headers_end_at_the_deadline(serve: Serve) -> None:
    async def trickle(head: bytes, peer: Peer) -> None:
        await peer.send(b"HTTP/1.1 200 OK\r\n")
        for i in range(100):
            await peer.send(f"X-{i}: .\r\n".encode())
            await asyncio.sleep(0.05)

    server = await serve(trickle)
    async with _client(timeout_s=0.3) as client:
        with pytest.raises(ApiTransportError, match="no complete answer"):
            await asyncio.wait_for(client.get(f"{server.url}/x", headers={}), 2.0)


@pytest.mark.parametrize("shape", ["many headers", "one endless header"])
async def test_headers_over_64_kib_are_refused(serve: Serve, shape: str) -> None:
    async def big_head(head: bytes, peer: Peer) -> None:
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n")
        if shape == "many headers":
            await peer.send(b"".join(f"X-{i}: {'v' * 1000}\r\n".encode() for i in range(70)) + b"\r\nok")
        else:
            await peer.send(b"X-Long: " + b"v" * (70 * 1024))  # and never an end of line

    server = await serve(big_head)
    async with _client() as client:
        with pytest.raises(ApiTransportError, match="headers over 65536 bytes") as caught:
            await asyncio.wait_for(client.get(f"{server.url}/x", headers={}), 2.0)
    assert caught.value.sent is True


async def test_headers_just_under_64_kib_are_read(serve: Serve) -> None:
    async def big_head(head: bytes, peer: Peer) -> None:
        headers = "".join(f"X-{i}: {'v' * 1000}\r\n" for i in range(60))
        await peer.send(answer(headers=headers))

    server = await serve(big_head)
    async with _client() as client:
        assert (await client.get(f"{server.url}/x", headers={})).body == b'{"ok":true}'


@pytest.mark.parametrize("stray", [b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil", b"garbage"])
async def test_stray_bytes_after_a_complete_answer_close_the_connection(serve: Serve, stray: bytes) -> None:
    async def with_stray(head: bytes, peer: Peer) -> None:
        await peer.send(answer() + stray)  # one write: the stray bytes arrive with the answer

    server = await serve(with_stray)
    async with _client() as client:
        for _ in range(2):
            assert (await client.get(f"{server.url}/x", headers={})).body == b'{"ok":true}'
    assert len(server.peers) == 2  # the first connection was not reused


async def test_stray_bytes_on_an_idle_connection_close_it(serve: Serve) -> None:
    async def with_late_stray(head: bytes, peer: Peer) -> None:
        await peer.send(answer())
        await asyncio.sleep(0.02)
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")  # while the connection is idle

    server = await serve(with_late_stray)
    async with _client() as client:
        for _ in range(2):
            assert (await client.get(f"{server.url}/x", headers={})).body == b'{"ok":true}'
            await asyncio.sleep(0.1)
    assert len(server.peers) == 2


async def test_idle_connections_expire(serve: Serve) -> None:
    server = await serve(plain)
    async with _client(keepalive_s=0.1) as client:
        await client.get(f"{server.url}/x", headers={})
        await asyncio.sleep(0.2)
        await client.get(f"{server.url}/x", headers={})
    assert len(server.peers) == 2


async def test_https_is_verified(serve: Serve) -> None:
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_tls)
    server = await serve(plain, server_tls)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    async with _client(tls=trusting) as client:
        assert (await client.get(f"{server.url}/x", headers={})).status == 200
        await client.get(f"{server.url}/x", headers={})
    assert len(server.peers) == 1
    async with _client() as client:  # the system's CAs do not know this one
        with pytest.raises(ApiTransportError, match="cannot connect") as caught:
            await client.get(f"{server.url}/x", headers={})
    assert caught.value.sent is False


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("ftp://127.0.0.1/x", {}),
        ("http://[::1/x", {}),
        ("http:///x", {}),
        ("http://127.0.0.1/x?taskId=1", {}),
        ("http://127.0.0.1/x", {"Authorization": "Bearer k\r\nX-Injected: 1"}),
        ("http://127.0.0.1/x", {"Bad Name": "v"}),
        ("http://127.0.0.1/x", {"Authorization": "Bearer ключ"}),
    ],
)
async def test_unusable_urls_and_headers_are_configuration_errors(url: str, headers: dict[str, str]) -> None:
    async with _client() as client:
        with pytest.raises(ApiUrlError):
            await client.get(url, headers=headers)


async def test_closing_fails_calls_in_progress_and_refuses_new_ones(serve: Serve) -> None:
    async def never(head: bytes, peer: Peer) -> None:
        await asyncio.sleep(10)

    server = await serve(never)
    client = _client()
    call = asyncio.create_task(client.get(f"{server.url}/x", headers={}))
    await asyncio.sleep(0.05)
    await client.aclose()
    with pytest.raises(ApiTransportError) as caught:
        await call
    assert caught.value.sent is True
    with pytest.raises(ApiTransportError, match="closed") as refused:
        await client.get(f"{server.url}/x", headers={})
    assert refused.value.sent is False
    assert client.closed


class _ClosingClient(KeepAliveGets):
    async def __aenter__(self) -> KeepAliveGets:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _client(
    *,
    timeout_s: float = 2.0,
    max_connections: int = 4,
    keepalive_s: float = 30.0,
    tls: ssl.SSLContext | None = None,
) -> _ClosingClient:
    return _ClosingClient(timeout_s, max_connections, {"User-Agent": "test"}, keepalive_s=keepalive_s, tls=tls)
