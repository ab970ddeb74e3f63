"""What one status call costs the client: aiohttp's ClientSession vs the keep-alive GET path that ships.

Calls are started at an even pace (``--rate`` per second, as a poller's due polls arrive), each as its own
task, against the fast KIE stand-in (``benchmarks.fake_kie``, its own process) for ``--seconds``. Reported
per variant: client CPU per call, and the same minus a run of the pacing alone, so the figure is the
call's own cost. Variants:

* ``aiohttp``: ``ClientSession.request`` + ``read()`` with the pool, headers and timeouts the provider
  client used before (what status polls went through until this benchmark);
* ``keepalive``: :class:`providers.api_client.ApiClient` as shipped, whose GETs go over
  :class:`providers.keepalive_get.KeepAliveGets`.

    uv run python -m benchmarks.http_calls --rate 3000 --seconds 6
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import paced_cpu_us, run_paced_benchmark
from benchmarks.fake_kie import API_KEY, RECORD_INFO, fake_kie_process
from providers.aiohttp_pool import AiohttpPool
from providers.api_client import ApiClient

VARIANTS = ("pacing-only", "aiohttp", "keepalive")
POOL = 100  # connections, as the engine benchmark's --in-flight 100
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Accept": "application/json"}


class _AiohttpStatusCalls(AiohttpPool):
    """The former status path: a request through aiohttp's session, the whole body read."""

    async def get(self, url: str, task_id: str) -> int:
        session = self._open_session()
        assert session is not None
        async with session.request("GET", url, headers=HEADERS, params={"taskId": task_id}) as response:
            await response.read()
            return response.status


async def measure(variant: str, base_url: str, rate: float, seconds: float) -> float:
    """CPU per call of one variant."""
    url = f"{base_url}{RECORD_INFO}"
    if variant == "pacing-only":

        async def nothing(i: int) -> None:
            await asyncio.sleep(0)

        return await paced_cpu_us(nothing, rate, seconds)
    if variant == "aiohttp":
        async with _AiohttpStatusCalls(timeout_s=30.0, max_connections=POOL) as former:
            return await paced_cpu_us(lambda i: former.get(url, f"task-{i}"), rate, seconds)
    async with ApiClient(timeout_s=30.0, max_connections=POOL) as client:
        return await paced_cpu_us(
            lambda i: client.request("GET", url, headers=HEADERS, params={"taskId": f"task-{i}"}), rate, seconds
        )


@contextmanager
def _stand_in() -> Iterator[str]:
    with fake_kie_process() as (base_url, _):
        yield base_url


def main(argv: list[str] | None = None) -> Path:
    """CLI entry point; returns the JSON result path."""
    return run_paced_benchmark("http_calls", __doc__, argv, VARIANTS, _stand_in, measure)


if __name__ == "__main__":
    main()
