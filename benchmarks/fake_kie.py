"""A minimal KIE stand-in for load: every ``record-info`` answers "still generating", at once.

Run as its own process (``python -m benchmarks.fake_kie --port P``) so its CPU is not the engine's.
aiohttp serves it: a request costs it far less than the KIE simulator (Starlette on uvicorn), so the
engine, not the stand-in, is what saturates (``benchmarks.engine_capacity --compare-standins`` measures both).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from benchmarks.common import stop_process
from sandbox.serve import free_port

RECORD_INFO = "/api/v1/veo/record-info"
API_KEY = "bench-key"


def running_body(task_id: str) -> bytes:
    """The record-info envelope of a Veo task still being generated (successFlag 0)."""
    data = {"taskId": task_id, "successFlag": 0, "errorCode": None, "errorMessage": "", "response": None}
    return json.dumps({"code": 200, "msg": "success", "data": data}).encode()


async def record_info(request: web.Request) -> web.Response:
    """``GET /api/v1/veo/record-info?taskId=…``: always running."""
    return web.Response(body=running_body(request.query.get("taskId", "")), content_type="application/json")


def make_app() -> web.Application:
    """The aiohttp app with the one route."""
    app = web.Application()
    app.router.add_get(RECORD_INFO, record_info)
    return app


@contextmanager
def fake_kie_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run the stand-in in a child process; yield its base URL and the process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fake_kie", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_listening(port, process)
        yield url, process
    finally:
        stop_process(process)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            raise RuntimeError("fake KIE stand-in exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("fake KIE stand-in did not start") from None
            time.sleep(0.05)


def main() -> None:
    """Serve until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(make_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
