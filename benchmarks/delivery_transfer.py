"""Delivery transfer: a large video from the KIE simulator through the real delivery pieces.

The simulator (its own process, ``[bytes=N]`` scenario) serves the file; HttpVideoDownloader streams it
down; DeliveryPipeline's tee writes the temp file while S3BlobStore (aioboto3 multipart) uploads to a
moto server (its own process) — exactly DeliveryPipeline._fetch without the probe (the bytes are
synthetic, not an MP4). Then the same into LocalBlobStore, then a plain boto3 ``upload_file`` of the
same file to the same endpoint as the baseline. Reported: MB/s and peak RSS growth of each phase.

    uv run python -m benchmarks.delivery_transfer --mb 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped,unused-ignore]
import httpx

from benchmarks.common import exit_on_sigterm, peak_rss_bytes, reset_peak_rss, rss_bytes, write_result
from poller.delivery import _tee_to_file
from providers.download import HttpVideoDownloader
from providers.http import make_http_client
from sandbox.serve import free_port
from storage.blobs_local import LocalBlobStore
from storage.blobs_s3 import S3BlobStore

KIE_KEY = "bench-kie-key"
BUCKET = "bench-videos"
REGION = "us-east-1"
AWS_KEY, AWS_SECRET = "testing", "testing-secret-key"
MIB = 1 << 20


@contextmanager
def child(command: list[str], port: int) -> Iterator[str]:
    """Run a server process on ``port`` until the block ends; yield its base URL."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/", timeout=0.5)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve_kie(port: int) -> None:
    """Serve the KIE simulator (``--serve-kie``), until terminated."""
    import uvicorn

    from sandbox.kie_simulator import KieSimulator, create_app

    uvicorn.run(create_app(KieSimulator(api_key=KIE_KEY)), host="127.0.0.1", port=port, log_level="warning")


def video_url(kie_url: str, size: int) -> str:
    """Create a task whose video is ``size`` bytes and wait for its result URL."""
    headers = {"Authorization": f"Bearer {KIE_KEY}"}
    with httpx.Client(base_url=kie_url, headers=headers, timeout=30) as client:
        answer = client.post("/api/v1/veo/generate", json={"prompt": f"big video [bytes={size}]", "model": "veo3"})
        task_id = answer.json()["data"]["taskId"]
        for _ in range(50):
            data = client.get("/api/v1/veo/record-info", params={"taskId": task_id}).json()["data"]
            if data["successFlag"] == 1:
                return str(data["response"]["resultUrls"][0])
            time.sleep(0.1)
    raise RuntimeError("the simulated task never finished")


async def through_pipeline(url: str, store: Any, key: str, temp: Path, max_bytes: int) -> dict[str, Any]:
    """Download → tee to ``temp`` → ``store.put_stream``, as DeliveryPipeline._fetch does."""
    client = make_http_client(60.0, 4)
    downloader = HttpVideoDownloader(client, max_bytes)
    reset_peak_rss()
    before = rss_bytes()
    started = time.monotonic()
    with temp.open("wb") as file:
        async with downloader.open(url) as chunks:
            stored = await store.put_stream(key, _tee_to_file(chunks, file), "video/mp4")
    seconds = time.monotonic() - started
    await client.aclose()
    return _row(stored.size_bytes, seconds, before)


def boto3_upload(endpoint: str, path: Path, key: str) -> dict[str, Any]:
    """The baseline: boto3 ``upload_file`` (its default transfer config) of the file on disk."""
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=AWS_KEY, aws_secret_access_key=AWS_SECRET
    )
    reset_peak_rss()
    before = rss_bytes()
    started = time.monotonic()
    s3.upload_file(str(path), BUCKET, key)
    seconds = time.monotonic() - started
    size = int(s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"])
    return _row(size, seconds, before)


def _row(size: int, seconds: float, rss_before: int) -> dict[str, Any]:
    return {
        "bytes": size,
        "seconds": round(seconds, 2),
        "mb_per_s": round(size / MIB / seconds, 1) if seconds else None,
        "peak_rss_growth_mb": round((peak_rss_bytes() - rss_before) / MIB, 1),
    }


async def measure(size: int) -> dict[str, Any]:
    """All three phases for one size."""
    kie_port, s3_port = free_port(), free_port()
    moto = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)]
    kie_cmd = [sys.executable, "-m", "benchmarks.delivery_transfer", "--serve-kie", str(kie_port)]
    with child(moto, s3_port) as s3_url, child(kie_cmd, kie_port) as kie_url, tempfile.TemporaryDirectory() as tmp:
        boto3.client(
            "s3", endpoint_url=s3_url, region_name=REGION, aws_access_key_id=AWS_KEY, aws_secret_access_key=AWS_SECRET
        ).create_bucket(Bucket=BUCKET)
        url = video_url(kie_url, size)
        temp = Path(tmp) / "video.mp4"
        s3_store = S3BlobStore(
            bucket=BUCKET,
            prefix="",
            region=REGION,
            endpoint_url=s3_url,
            access_key_id=AWS_KEY,
            secret_access_key=AWS_SECRET,
        )
        await s3_store.start()
        try:
            to_s3 = await through_pipeline(url, s3_store, "pipeline.mp4", temp, size + 1)
        finally:
            await s3_store.aclose()
        local = LocalBlobStore(Path(tmp) / "blobs")
        to_local = await through_pipeline(url, local, "pipeline.mp4", Path(tmp) / "video2.mp4", size + 1)
        baseline = boto3_upload(s3_url, temp, "baseline.mp4")
    ratio = to_s3["mb_per_s"] / baseline["mb_per_s"] if baseline["mb_per_s"] else None
    return {
        "size_mb": round(size / MIB),
        "pipeline_to_s3": to_s3,
        "pipeline_to_local": to_local,
        "boto3_upload_file": baseline,
        "s3_throughput_vs_boto3": round(ratio, 2) if ratio else None,
    }


def main(argv: list[str] | None = None) -> Path | None:
    """CLI entry point; returns the JSON result path."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, nargs="+", default=[200])
    parser.add_argument("--smoke", action="store_true", help="tiny run: 12 MB (two multipart parts)")
    parser.add_argument("--serve-kie", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    exit_on_sigterm()
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    if args.serve_kie is not None:
        serve_kie(args.serve_kie)
        return None
    sizes = [12] if args.smoke else args.mb
    rows = []
    for mb in sizes:
        row = asyncio.run(measure(mb * MIB))
        print(json.dumps(row), flush=True)
        rows.append(row)
    result = {"command": "python -m benchmarks.delivery_transfer " + " ".join(raw), "rows": rows, "pid": os.getpid()}
    path = write_result("delivery_transfer_smoke" if args.smoke else "delivery_transfer", result, args.out)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
