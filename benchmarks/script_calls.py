"""What one step read costs the client: a Lua script call through redis-py's pool vs the engine's ScriptBatcher.

Calls are started at an even pace (``--rate`` per second, as a poller's due steps arrive), each as its own
task, against a real redis-server on 127.0.0.1, for ``--seconds``. Reported per variant: client CPU per
call, and the same minus a run of the pacing alone (tasks that do nothing), so the figure is the call's
own cost. Variants:

* ``pooled``: ``redis.register_script(...)(keys, args)``, a plain call through the connection pool (a
  checkout, the retry wrapper, the reply, a release);
* ``batcher``: :class:`storage.script_batcher.ScriptBatcher` as shipped (calls of a loop turn written
  together on the batcher's own connection, replies read in order).

    uv run python -m benchmarks.script_calls --rate 3000 --seconds 6
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import paced_cpu_us, redis_server, run_paced_benchmark
from storage.redis_support import connect_redis
from storage.script_batcher import ScriptBatcher

# The shape of start_step: read a job hash and count an attempt on it.
SCRIPT = "local job = redis.call('HGETALL', KEYS[1]); redis.call('HINCRBY', KEYS[1], 'attempts', 1); return job"
KEYS = 1000
VARIANTS = ("pacing-only", "pooled", "batcher")


async def measure(variant: str, url: str, rate: float, seconds: float) -> float:
    """CPU per call of one variant."""
    redis = connect_redis(url)
    try:
        for i in range(KEYS):
            await redis.hset(f"job:{i}", mapping={"id": str(i), "status": "running", "attempts": "0"})
        if variant == "pacing-only":

            async def nothing(i: int) -> None:
                await asyncio.sleep(0)

            return await paced_cpu_us(nothing, rate, seconds)
        if variant == "pooled":
            script = redis.register_script(SCRIPT)
            return await paced_cpu_us(lambda i: script(keys=[f"job:{i % KEYS}"], args=["owner"]), rate, seconds)
        batcher = ScriptBatcher(redis, SCRIPT)
        return await paced_cpu_us(lambda i: batcher.call([f"job:{i % KEYS}"], ["owner"]), rate, seconds)
    finally:
        await redis.aclose()


@contextmanager
def _redis_url() -> Iterator[str]:
    with redis_server() as server:
        yield f"redis://127.0.0.1:{server.port}/0"


def main(argv: list[str] | None = None) -> Path:
    """CLI entry point; returns the JSON result path."""
    return run_paced_benchmark("script_calls", __doc__, argv, VARIANTS, _redis_url, measure)


if __name__ == "__main__":
    main()
