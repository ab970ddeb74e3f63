"""The fault-injecting proxy over real HTTP: moto's S3 and the KIE simulator behind it, real clients
(boto3, aioboto3, httpx, the project's S3 blob store) in front of it."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aioboto3
import boto3  # type: ignore[import-untyped]
import httpx
import pytest
from aiobotocore.config import AioConfig
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, ReadTimeoutError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from sandbox.fault_proxy import FaultProxy, Seen, create_app, s3_error_body
from sandbox.serve import ThreadedServer, free_port
from storage.blobs_s3 import MIB, S3BlobStore
from tests.fixtures.kie import KieStandIn
from tests.fixtures.s3_server import S3Server

pytestmark = pytest.mark.integration

BIG = 12 * MIB


def payload(size: int) -> bytes:
    """Non-repeating bytes, so a reordered or truncated chunk changes the digest."""
    block = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2048))
    return (block * (size // len(block) + 1))[:size]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def s3_proxy_server(s3_server: S3Server) -> Iterator[tuple[FaultProxy, str]]:
    proxy = FaultProxy(s3_server.endpoint_url)
    with ThreadedServer(create_app(proxy)) as server:
        yield proxy, server.url


@pytest.fixture
def s3_proxy(s3_proxy_server: tuple[FaultProxy, str]) -> Iterator[FaultProxy]:
    proxy, _ = s3_proxy_server
    proxy.reset()
    yield proxy
    proxy.reset()


@pytest.fixture
def proxy_url(s3_proxy_server: tuple[FaultProxy, str], s3_proxy: FaultProxy) -> str:
    return s3_proxy_server[1]


def boto3_client(server: S3Server, endpoint_url: str, attempts: int = 1) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=server.region,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": attempts, "mode": "standard"}),
    )


@pytest.fixture
async def aio_s3(s3_server: S3Server, proxy_url: str) -> AsyncIterator[Any]:
    """An aioboto3 client through the proxy, with botocore's retries off (every fault shows)."""
    session = aioboto3.Session(
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
        region_name=s3_server.region,
    )
    config = AioConfig(
        s3={"addressing_style": "path"}, retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=10
    )
    async with session.client("s3", endpoint_url=proxy_url, config=config) as client:
        yield client


class Echo:
    """An upstream that shows what arrived, with gates to prove streaming in both directions."""

    def __init__(self) -> None:
        self.first_chunk_arrived = threading.Event()
        self.release_rest = threading.Event()

    def app(self) -> Starlette:
        async def echo(request: Request) -> Response:
            body = await request.body()
            return JSONResponse(
                {
                    "method": request.method,
                    "raw_path": request.scope["raw_path"].decode(),
                    "query": request.scope["query_string"].decode(),
                    "headers": [[k.decode(), v.decode()] for k, v in request.headers.raw],
                    "size": len(body),
                }
            )

        async def cookies(request: Request) -> Response:
            response = Response(b"ok", headers={"x-upstream": "1"})
            response.raw_headers += [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]
            return response

        async def gated_download(request: Request) -> Response:
            async def body() -> AsyncIterator[bytes]:
                yield b"first"
                await asyncio.to_thread(self.release_rest.wait, 30)
                yield b"second"

            return StreamingResponse(body())

        async def gated_upload(request: Request) -> Response:
            size = 0
            async for chunk in request.stream():
                if chunk:
                    self.first_chunk_arrived.set()
                size += len(chunk)
            return JSONResponse({"size": size})

        return Starlette(
            routes=[
                Route("/cookies", cookies),
                Route("/gated-download", gated_download),
                Route("/gated-upload", gated_upload, methods=["POST"]),
                Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )


@pytest.fixture
def echo_proxy() -> Iterator[tuple[Echo, FaultProxy, str]]:
    echo = Echo()
    with ThreadedServer(echo.app()) as upstream:
        proxy = FaultProxy(upstream.url)
        with ThreadedServer(create_app(proxy)) as server:
            yield echo, proxy, server.url


# --------------------------------------------------------------------------- S3 through the proxy


def test_boto3_creates_a_bucket_and_round_trips_an_object(
    s3_server: S3Server, s3_proxy: FaultProxy, proxy_url: str
) -> None:
    client = boto3_client(s3_server, proxy_url)
    client.create_bucket(Bucket="via-proxy-sync")
    client.put_object(Bucket="via-proxy-sync", Key="a.txt", Body=b"hello")
    assert client.get_object(Bucket="via-proxy-sync", Key="a.txt")["Body"].read() == b"hello"
    # Really stored upstream, not faked by the proxy.
    assert s3_server.client().get_object(Bucket="via-proxy-sync", Key="a.txt")["Body"].read() == b"hello"
    assert s3_proxy.requests == [
        Seen("PUT", "/via-proxy-sync", 200),
        Seen("PUT", "/via-proxy-sync/a.txt", 200),
        Seen("GET", "/via-proxy-sync/a.txt", 200),
    ]


async def test_aioboto3_round_trips_a_12_mib_object(aio_s3: Any, s3_bucket: str) -> None:
    data = payload(BIG)
    await aio_s3.put_object(Bucket=s3_bucket, Key="big.bin", Body=data)
    head = await aio_s3.head_object(Bucket=s3_bucket, Key="big.bin")
    got = await aio_s3.get_object(Bucket=s3_bucket, Key="big.bin")
    async with got["Body"] as body:
        fetched = await body.read()
    assert head["ContentLength"] == BIG
    assert hashlib.sha256(fetched).hexdigest() == hashlib.sha256(data).hexdigest()


async def test_injected_500_on_the_next_put_surfaces_in_aioboto3_and_the_next_put_succeeds(
    aio_s3: Any, s3_bucket: str, s3_proxy: FaultProxy
) -> None:
    s3_proxy.inject(500, match=f"PUT /{s3_bucket}/.*")
    with pytest.raises(ClientError) as failure:
        await aio_s3.put_object(Bucket=s3_bucket, Key="k", Body=b"one")
    assert failure.value.response["Error"]["Code"] == "InternalError"
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500

    await aio_s3.put_object(Bucket=s3_bucket, Key="k", Body=b"two")
    assert s3_proxy.requests[-2:] == [Seen("PUT", f"/{s3_bucket}/k", 500), Seen("PUT", f"/{s3_bucket}/k", 200)]
    assert s3_proxy.pending_faults == 0


def test_botocore_retries_absorb_as_many_injected_errors_as_it_has_attempts(
    s3_server: S3Server, s3_bucket: str, s3_proxy: FaultProxy, proxy_url: str
) -> None:
    client = boto3_client(s3_server, proxy_url, attempts=3)
    s3_proxy.inject(503, times=2, match="PUT /.*")
    client.put_object(Bucket=s3_bucket, Key="k", Body=b"x")
    assert [seen.status for seen in s3_proxy.requests] == [503, 503, 200]


async def test_drop_of_a_non_idempotent_request_surfaces_as_a_connection_error(
    aio_s3: Any, s3_bucket: str, s3_proxy: FaultProxy
) -> None:
    s3_proxy.inject(drop=True, match=rf"POST /{s3_bucket}/k\?uploads.*")
    with pytest.raises(HTTPClientError):
        await aio_s3.create_multipart_upload(Bucket=s3_bucket, Key="k")
    created = await aio_s3.create_multipart_upload(Bucket=s3_bucket, Key="k")
    assert created["UploadId"]
    assert s3_proxy.requests == [Seen("POST", f"/{s3_bucket}/k", None), Seen("POST", f"/{s3_bucket}/k", 200)]


async def test_aiohttp_resends_an_idempotent_put_once_after_a_drop_so_two_drops_surface(
    aio_s3: Any, s3_bucket: str, s3_proxy: FaultProxy
) -> None:
    # aiohttp retries GET/PUT/DELETE… once on a disconnect by itself (RFC 9112 §9.3.1), below botocore.
    s3_proxy.inject(drop=True, match="PUT /.*")
    await aio_s3.put_object(Bucket=s3_bucket, Key="k", Body=b"resent")
    assert [s.status for s in s3_proxy.requests] == [None, 200]

    s3_proxy.inject(drop=True, times=2, match="PUT /.*")
    with pytest.raises(HTTPClientError):
        await aio_s3.put_object(Bucket=s3_bucket, Key="k", Body=b"lost")
    assert [s.status for s in s3_proxy.requests] == [None, 200, None, None]


async def test_match_by_method_and_path_faults_only_the_matching_request(
    aio_s3: Any, s3_bucket: str, s3_proxy: FaultProxy
) -> None:
    await aio_s3.put_object(Bucket=s3_bucket, Key="a", Body=b"a")
    s3_proxy.inject(404, match=f"GET /{s3_bucket}/b")
    await aio_s3.put_object(Bucket=s3_bucket, Key="b", Body=b"b")  # PUT: not matched
    got = await aio_s3.get_object(Bucket=s3_bucket, Key="a")  # other key: not matched
    async with got["Body"] as body:
        assert await body.read() == b"a"
    with pytest.raises(ClientError) as failure:
        await aio_s3.get_object(Bucket=s3_bucket, Key="b")
    assert failure.value.response["Error"]["Code"] == "NoSuchKey"
    assert [s.status for s in s3_proxy.requests] == [200, 200, 200, 404]


async def test_a_predicate_and_the_query_string_can_select_the_request(
    aio_s3: Any, s3_bucket: str, s3_proxy: FaultProxy
) -> None:
    s3_proxy.inject(500, match=lambda request: request.query_params.get("list-type") == "2")
    await aio_s3.put_object(Bucket=s3_bucket, Key="a", Body=b"a")
    with pytest.raises(ClientError):
        await aio_s3.list_objects_v2(Bucket=s3_bucket)
    s3_proxy.inject(500, match=rf"GET /{s3_bucket}\?.*list-type=2.*")
    with pytest.raises(ClientError):
        await aio_s3.list_objects_v2(Bucket=s3_bucket)
    listed = await aio_s3.list_objects_v2(Bucket=s3_bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["a"]


async def test_a_delay_fault_times_out_a_client_with_a_shorter_read_timeout(
    s3_server: S3Server, s3_bucket: str, s3_proxy: FaultProxy, proxy_url: str
) -> None:
    session = aioboto3.Session(
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
        region_name=s3_server.region,
    )
    config = AioConfig(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}, read_timeout=0.2)
    s3_proxy.inject(None, delay_s=2.0, match="GET /.*")
    async with session.client("s3", endpoint_url=proxy_url, config=config) as client:
        with pytest.raises(ReadTimeoutError):
            await client.get_object(Bucket=s3_bucket, Key="missing")


async def test_the_blob_stores_multipart_upload_survives_a_500_on_one_part(
    s3_server: S3Server, s3_bucket: str, s3_proxy: FaultProxy, proxy_url: str
) -> None:
    store = S3BlobStore(
        bucket=s3_bucket,
        prefix="videos",
        region=s3_server.region,
        endpoint_url=proxy_url,
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
        part_size=5 * MIB,
    )
    data = payload(BIG)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), MIB):
            yield data[start : start + MIB]

    s3_proxy.inject(500, match=rf"PUT /{s3_bucket}/videos/v\.mp4\?.*partNumber=2.*")
    async with store:
        stored = await store.put_stream("v.mp4", chunks(), "video/mp4")
    assert stored.size_bytes == BIG
    upstream = s3_server.client().get_object(Bucket=s3_bucket, Key="videos/v.mp4")["Body"].read()
    assert upstream == data
    statuses = [s.status for s in s3_proxy.requests if s.method == "PUT"]
    assert statuses.count(500) == 1
    assert statuses[-1] == 200


# --------------------------------------------------------------------------- forwarding rules


async def test_host_path_query_and_end_to_end_headers_arrive_unchanged(
    echo_proxy: tuple[Echo, FaultProxy, str],
) -> None:
    _, _, url = echo_proxy
    headers = {
        "Host": "bucket.s3.example:9000",
        "X-Amz-Date": "20250101T000000Z",
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "for the proxy only",
        "Keep-Alive": "timeout=5",
        "Expect": "100-continue",
    }
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.put(f"{url}/a%20b/c%2Fd?x=1&y=%2F&z", content=b"12345", headers=headers)
    seen = response.json()
    received = {k: v for k, v in seen["headers"]}
    assert seen["method"] == "PUT"
    assert seen["raw_path"] == "/a%20b/c%2Fd"
    assert seen["query"] == "x=1&y=%2F&z"
    assert seen["size"] == 5
    assert received["host"] == "bucket.s3.example:9000"
    assert received["x-amz-date"] == "20250101T000000Z"
    assert received["content-length"] == "5"
    assert not {"x-hop", "keep-alive", "expect"} & received.keys()


async def test_httpx_default_headers_are_not_added_for_the_client(
    echo_proxy: tuple[Echo, FaultProxy, str],
) -> None:
    _, _, url = echo_proxy
    async with httpx.AsyncClient(trust_env=False) as client:
        request = client.build_request("GET", f"{url}/plain")
        for name in ("accept", "accept-encoding", "user-agent"):
            del request.headers[name]
        response = await client.send(request)
    names = {k for k, _ in response.json()["headers"]}
    assert names.isdisjoint({"accept", "accept-encoding", "user-agent"})


async def test_repeated_response_headers_pass_through(echo_proxy: tuple[Echo, FaultProxy, str]) -> None:
    _, _, url = echo_proxy
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(f"{url}/cookies")
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers["x-upstream"] == "1"


async def test_response_body_is_streamed_not_buffered(echo_proxy: tuple[Echo, FaultProxy, str]) -> None:
    echo, _, url = echo_proxy
    async with httpx.AsyncClient(trust_env=False) as client, client.stream("GET", f"{url}/gated-download") as response:
        chunks = response.aiter_raw()
        # The upstream holds "second" back until the client has "first": a buffering proxy never delivers it.
        first = await asyncio.wait_for(anext(chunks), 20)
        echo.release_rest.set()
        rest = b"".join([chunk async for chunk in chunks])
    assert first + rest == b"firstsecond"


async def test_request_body_is_streamed_not_buffered(echo_proxy: tuple[Echo, FaultProxy, str]) -> None:
    echo, _, url = echo_proxy

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 65536
        # The rest is sent only once the upstream got the start: a buffering proxy would wait forever.
        arrived = await asyncio.to_thread(echo.first_chunk_arrived.wait, 20)
        assert arrived, "the upstream never saw the first chunk"
        yield b"y" * 65536

    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        response = await client.post(f"{url}/gated-upload", content=body())
    assert response.json() == {"size": 131072}


async def test_unreachable_upstream_answers_502(echo_proxy: tuple[Echo, FaultProxy, str]) -> None:
    proxy = FaultProxy(f"http://127.0.0.1:{free_port()}")
    with ThreadedServer(create_app(proxy)) as server:
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await client.get(f"{server.url}/anything")
    assert response.status_code == 502
    assert proxy.requests == [Seen("GET", "/anything", 502)]


async def test_concurrent_requests_consume_exactly_the_injected_count(
    echo_proxy: tuple[Echo, FaultProxy, str],
) -> None:
    _, proxy, url = echo_proxy
    proxy.inject(500, times=5)
    async with httpx.AsyncClient(trust_env=False) as client:
        responses = await asyncio.gather(*(client.get(f"{url}/n{i}") for i in range(30)))
    assert sorted(r.status_code for r in responses) == [200] * 25 + [500] * 5
    assert len(proxy.requests) == 30
    assert proxy.pending_faults == 0


def test_inject_rejects_a_fault_that_does_nothing_or_a_bad_status() -> None:
    proxy = FaultProxy("http://127.0.0.1:1")
    with pytest.raises(ValueError, match="needs a status"):
        proxy.inject(None)
    with pytest.raises(ValueError, match="not an HTTP status"):
        proxy.inject(700)
    with pytest.raises(ValueError, match="times"):
        proxy.inject(500, times=0)
    assert proxy.pending_faults == 0


def test_s3_error_body_names_the_code_for_the_status() -> None:
    assert b"<Code>InternalError</Code>" in s3_error_body(500)
    assert b"<Code>ServiceUnavailable</Code>" in s3_error_body(503)
    assert b"<Code>AccessDenied</Code>" in s3_error_body(403)
    assert b"<Code>InternalError</Code>" in s3_error_body(502)


# --------------------------------------------------------------------------- generic: the KIE simulator


@pytest.fixture
def kie_proxy(kie: KieStandIn) -> Iterator[tuple[FaultProxy, httpx.AsyncClient]]:
    proxy = FaultProxy(kie.url)
    with ThreadedServer(create_app(proxy)) as server:
        headers = {"Authorization": f"Bearer {kie.api_key}"}
        yield proxy, httpx.AsyncClient(base_url=server.url, headers=headers, trust_env=False, timeout=10)


async def test_kie_simulator_works_through_the_proxy_and_sees_json_faults(
    kie_proxy: tuple[FaultProxy, httpx.AsyncClient],
) -> None:
    proxy, client = kie_proxy
    async with client:
        created = (await client.post("/api/v1/veo/generate", json={"prompt": "a cat"})).json()
        task_id = created["data"]["taskId"]
        info = await client.get("/api/v1/veo/record-info", params={"taskId": task_id})
        assert info.json()["data"]["taskId"] == task_id

        proxy.inject(
            429,
            match="POST /api/v1/veo/generate",
            body=b'{"code": 429, "msg": "slow down"}',
            content_type="application/json",
            headers={"Retry-After": "7"},
        )
        limited = await client.post("/api/v1/veo/generate", json={"prompt": "a dog"})
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "7"
        assert limited.json() == {"code": 429, "msg": "slow down"}

        proxy.inject(drop=True, match="GET /api/v1/veo/record-info")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/api/v1/veo/record-info", params={"taskId": task_id})
        again = await client.get("/api/v1/veo/record-info", params={"taskId": task_id})
        assert again.status_code == 200
    assert [s.status for s in proxy.requests] == [200, 200, 429, None, 200]


async def test_kie_auth_is_forwarded_so_a_wrong_key_is_refused_upstream(
    kie_proxy: tuple[FaultProxy, httpx.AsyncClient],
) -> None:
    proxy, client = kie_proxy
    async with client:
        response = await client.post(
            "/api/v1/veo/generate", json={"prompt": "a cat"}, headers={"Authorization": "Bearer wrong"}
        )
    assert response.json()["code"] == 401
    assert proxy.requests == [Seen("POST", "/api/v1/veo/generate", response.status_code)]
