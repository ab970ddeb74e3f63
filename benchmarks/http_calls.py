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

import argparse
import asyncio
from pathlib import Path

from benchmarks.common import paced_cpu_us, write_rows
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


def main(argv: list[str] | None = None) -> Path:
    """CLI entry point; returns the JSON result path."""
    import sys

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=3000.0, help="calls started per second")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each variant, alternating")
    parser.add_argument("--smoke", action="store_true", help="tiny run: 200 calls/s for 0.5 s, once")
    parser.add_argument("--out", type=Path, default=None)
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    rate, seconds, repeats = (200.0, 0.5, 1) if args.smoke else (args.rate, args.seconds, args.repeats)
    runs: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    with fake_kie_process() as (base_url, _):
        for _ in range(repeats):
            for variant in VARIANTS:
                runs[variant].append(round(asyncio.run(measure(variant, base_url, rate, seconds)), 1))
    pacing = min(runs["pacing-only"])
    rows = []
    for variant in VARIANTS:
        row = {"variant": variant, "rate": rate, "cpu_us_per_call": runs[variant]}
        if variant != "pacing-only":
            row["cpu_us_per_call_minus_pacing"] = [round(cpu - pacing, 1) for cpu in runs[variant]]
        rows.append(row)
        print(f"{variant:<12} rate={rate:>7.0f}/s cpu/call={runs[variant]} µs")
    return write_rows("http_calls", raw, rows, smoke=args.smoke, out_dir=args.out)


if __name__ == "__main__":
    main()
