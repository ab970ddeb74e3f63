"""Shared plumbing of the benchmarks: a redis-server on a free port, /proc sampling, percentiles, results.

psutil is optional (the ``bench`` group): every figure here is read from /proc directly, so the
benchmarks and their smoke tests run with the project's ordinary dependencies.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import redis

from sandbox.serve import free_port

T = TypeVar("T")

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process now (/proc/<pid>/statm)."""
    with open(f"/proc/{pid or os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def peak_rss_bytes(pid: int | None = None) -> int:
    """Peak resident set size of a process so far (VmHWM)."""
    with open(f"/proc/{pid or os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> None:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0), so a later peak is this phase's."""
    try:
        with open(f"/proc/{os.getpid()}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class CpuMeter:
    """CPU % of one process over a window (100 % = one core busy)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._cpu = cpu_seconds(pid)
        self._wall = time.monotonic()

    def percent(self) -> float:
        """CPU % since the meter was made."""
        wall = time.monotonic() - self._wall
        return 100.0 * (cpu_seconds(self.pid) - self._cpu) / wall if wall > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max of durations given in seconds, in milliseconds."""
    return {
        "p50_ms": round(percentile(values_s, 50) * 1000, 2),
        "p95_ms": round(percentile(values_s, 95) * 1000, 2),
        "p99_ms": round(percentile(values_s, 99) * 1000, 2),
        "max_ms": round(max(values_s, default=0.0) * 1000, 2),
    }


def hardware() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "mem_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def write_result(name: str, result: dict[str, Any], out_dir: Path | None = None) -> Path:
    """Write ``result`` (plus the hardware) as ``<out_dir>/<name>.json`` and return the path."""
    directory = out_dir or RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    payload = {"benchmark": name, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "hardware": hardware()}
    payload.update(result)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path


def write_rows(
    benchmark: str, argv: list[str], rows: list[dict[str, Any]], *, smoke: bool, out_dir: Path | None
) -> Path:
    """Write a benchmark's rows with the command that reproduces them (``<benchmark>_smoke`` for a smoke run)."""
    result = {"command": f"python -m benchmarks.{benchmark} " + " ".join(argv), "rows": rows}
    path = write_result(f"{benchmark}_smoke" if smoke else benchmark, result, out_dir)
    print(f"wrote {path}")
    return path


@dataclass
class RedisProcess:
    """A throwaway redis-server (no persistence) on a free 127.0.0.1 port."""

    port: int
    process: subprocess.Popen[bytes]
    directory: Path
    extra: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        """The server's process id (for CPU sampling)."""
        return self.process.pid

    def client(self) -> redis.Redis:
        """A synchronous client with text responses."""
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)

    def used_memory(self) -> int:
        """``INFO memory`` ``used_memory`` in bytes."""
        with self.client() as c:
            return int(c.info("memory")["used_memory"])


@contextmanager
def redis_server() -> Iterator[RedisProcess]:
    """Start a redis-server for one benchmark and stop it afterwards."""
    executable = shutil.which("redis-server") or "/usr/bin/redis-server"
    with tempfile.TemporaryDirectory(prefix="reelay-bench-redis-") as tmp:
        port = free_port()
        args = [executable, "--bind", "127.0.0.1", "--port", str(port), "--dir", tmp, "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--logfile", str(Path(tmp) / "redis.log")]  # fmt: skip
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = RedisProcess(port, process, Path(tmp))
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with server.client() as c:
                        if c.ping():
                            break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.02)
            yield server
        finally:
            stop_process(process)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in this (the harness's) process meanwhile: it measures the process under test.

    The Telegram emulator keeps every update, message and call, so the harness's heap grows with the run and
    a full collection of it paused the emulator's threads for ~50 ms (gc callbacks showed one 54 ms pause six
    seconds into a 300 prompts/s run), long enough to show as a 100-200 ms "ack latency" of the bot. The
    run's garbage waits for the end of the window; memory is not what the harness measures.
    """
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def stop_process(process: subprocess.Popen[Any], grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited after ``grace_s``."""
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def quiet_logs() -> None:
    """Keep structlog below warnings, so logging does not dominate (or flood) the measurement."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger().setLevel(logging.WARNING)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the ``with`` blocks stop the servers a benchmark started."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))


EventLoopName = Literal["asyncio", "uvloop"]


def run_on_loop(main: Coroutine[Any, Any, T], event_loop: EventLoopName) -> T:
    """``asyncio.run(main)`` on the named event loop (uvloop for comparison: measured, no gain; docs/performance.md)."""
    if event_loop == "uvloop":
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


async def paced_cpu_us(
    call: Callable[[int], Awaitable[Any]], rate: float, seconds: float, *, warm_up: int = 300
) -> float:
    """Client CPU per call (µs) with ``call(i)`` started as a task every ``1/rate`` s for ``seconds``."""
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[Any]] = set()
    failures: list[BaseException] = []

    def finished(task: asyncio.Task[Any]) -> None:
        running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            failures.append(task.exception())  # type: ignore[arg-type]  # not None: checked above

    def start(i: int) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(call(i))
        running.add(task)
        task.add_done_callback(finished)

    for i in range(warm_up):  # scripts loaded, connections open
        await call(i)
    calls = int(rate * seconds)
    first = loop.time() + 0.1
    cpu_before = time.process_time()
    for i in range(calls):
        loop.call_at(first + i / rate, start, i)
    await asyncio.sleep(seconds + 0.2)  # every call started by now (the last one at ``seconds``)
    if running:
        await asyncio.wait(set(running))
    cpu_s = time.process_time() - cpu_before
    if failures:
        raise RuntimeError(f"{len(failures)} calls failed: {failures[0]!r}")
    return cpu_s / calls * 1e6


def run_paced_benchmark(
    name: str,
    description: str | None,
    argv: list[str] | None,
    variants: Sequence[str],
    serving: Callable[[], AbstractContextManager[str]],
    measure: Callable[[str, str, float, float], Coroutine[Any, Any, float]],
) -> Path:
    """The command line of a paced-calls benchmark: each variant measured in turn, ``--repeats`` times.

    ``serving()`` yields the address ``measure(variant, address, rate, seconds)`` calls; the first variant
    is ``pacing-only``, whose cost is subtracted from the others'. Returns the JSON result path.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=3000.0, help="calls started per second")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each variant, alternating")
    parser.add_argument("--smoke", action="store_true", help="tiny run: 200 calls/s for 0.5 s, once")
    parser.add_argument("--out", type=Path, default=None)
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    rate, seconds, repeats = (200.0, 0.5, 1) if args.smoke else (args.rate, args.seconds, args.repeats)
    runs: dict[str, list[float]] = {variant: [] for variant in variants}
    with serving() as address:
        for _ in range(repeats):
            for variant in variants:
                runs[variant].append(round(asyncio.run(measure(variant, address, rate, seconds)), 1))
    pacing = min(runs["pacing-only"])
    rows = []
    for variant in variants:
        row: dict[str, Any] = {"variant": variant, "rate": rate, "cpu_us_per_call": runs[variant]}
        if variant != "pacing-only":
            row["cpu_us_per_call_minus_pacing"] = [round(cpu - pacing, 1) for cpu in runs[variant]]
        rows.append(row)
        print(f"{variant:<12} rate={rate:>7.0f}/s cpu/call={runs[variant]} µs")
    return write_rows(name, raw, rows, smoke=args.smoke, out_dir=args.out)
