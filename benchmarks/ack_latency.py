"""Ack latency under load: simulated users send prompts through the Telegram emulator to a running Reelay.

Reelay runs in its own process (``benchmarks.reelay_process``: real redis-server, local blob store), and
so does the KIE simulator; the Telegram emulator runs here. Each prompt comes from a new user at a fixed
rate. Latency runs from the update being queued at the emulator (``send_text``) until the emulator
receives the ``sendMessage`` "Video generating…" to that chat (the emulator records call times). In
``polling`` mode Reelay fetches updates with ``getUpdates``. In ``webhook`` mode each update is POSTed
to Reelay's webhook route with the secret header over as many connections at once as the webhook's
``max_connections`` (40 unless Reelay sets it), as Telegram does; the emulator's own dispatcher posts
one update at a time and would measure itself (``--webhook-delivery emulator`` uses it anyway). For the
same reason this process's garbage collector is paused while prompts are offered and acked
(``benchmarks.common.collector_paused``): a full collection of the emulator's records once paused its
threads ~50 ms, measured as a 100-200 ms ack of the bot.

    uv run python -m benchmarks.ack_latency --rate 30 100 --prompts 300 --limiter priority   # both modes
    uv run python -m benchmarks.ack_latency --rate 100 300 --prompts 1200 --limiter none
    uv run python -m benchmarks.ack_latency --rate 300 --prompts 1500 --limiter none --role bot-alone
    uv run python -m benchmarks.ack_latency --rate 2 --prompts 20 --naive --mode polling --completion-s 3

``--limiter`` picks the application bot's rate limiter: ``wired`` (what ``bot.wiring`` builds),
``priority`` (``bot.rate_limit.PriorityRateLimiter``: acks before deliveries before status edits),
``ptb`` (python-telegram-bot's ``AIORateLimiter``: first come, first served) or ``none``
(benchmark-local, to measure the bot's own capacity). ``--no-rate-limit`` is ``--limiter none``.
``--telegram-http httpx`` puts python-telegram-bot's ``HTTPXRequest`` where ``bot.wiring`` builds
``bot.aiohttp_request.AiohttpRequest`` (what was wired before; kept for comparison).
``--role``: ``run`` (bot and engine in one process, as ``reelay run``), ``bot`` (the engine in a second,
``reelay poller`` process) or ``bot-alone`` (no engine: the ack path alone has the machine).
Besides latency, each row reports the bot's CPU per prompt (net of its idle CPU), Redis commands per
prompt (``INFO commandstats``, scripts' commands included), and when the engine's share (submit, status
edit) was done, which the run waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from benchmarks.common import (
    CpuMeter,
    RedisProcess,
    collector_paused,
    cpu_seconds,
    exit_on_sigterm,
    quiet_logs,
    redis_server,
    stop_process,
    summary_ms,
    write_result,
)
from sandbox.serve import ThreadedServer, free_port
from sandbox.telegram import DEFAULT_TOKEN, SECRET_HEADER, TelegramEmulator
from sandbox.telegram import create_app as create_telegram_app

KIE_KEY = "bench-kie-key"
WEBHOOK_SECRET = "bench-webhook-secret-0123456789"
WEBHOOK_PATH = "/telegram/hook"
FIRST_USER = 500_000
ACK_MARK = "Video generating"
MODES = ("polling", "webhook")
LIMITERS = ("wired", "priority", "ptb", "none")
# Reelay jobs are only submitted during a run: the provider never finishes them.
REELAY_COMPLETION_S = 3600.0
IDLE_WINDOW_S = 2.0  # how long the bot's idle CPU is sampled before the prompts


@dataclass(frozen=True)
class Variant:
    """What runs: Reelay (with one limiter) or the naive bot, taking updates in one mode."""

    mode: str
    limiter: str = "wired"
    naive: bool = False
    role: str = "run"
    telegram_http: str = "aiohttp"

    @property
    def process_role(self) -> str:
        """The ``reelay`` role of the process under test."""
        return "bot" if self.role == "bot-alone" else self.role

    @property
    def engine_runs(self) -> bool:
        """Whether some process submits the jobs (and edits their status) during the run."""
        return not self.naive and self.role != "bot-alone"

    @property
    def name(self) -> str:
        """A label for rows and result files."""
        if self.naive:
            return "naive"
        name = {"run": "reelay", "bot": "reelay_bot_and_poller", "bot-alone": "reelay_bot_alone"}[self.role]
        if self.telegram_http != "aiohttp":
            name += f"_{self.telegram_http}"
        return name if self.limiter == "wired" else f"{name}_limiter_{self.limiter}"


def settings_for(redis_url: str, telegram_url: str, kie_url: str, data_dir: str, mode: str) -> dict[str, Any]:
    """A local Reelay: local blobs, default 60 s polling (only submissions happen here)."""
    port = free_port()
    telegram: dict[str, Any] = {"token": DEFAULT_TOKEN, "api_base_url": f"{telegram_url}/bot"}
    http: dict[str, Any] = {"port": port}
    if mode == "webhook":
        telegram |= {"mode": "webhook", "webhook_secret": WEBHOOK_SECRET, "webhook_path": WEBHOOK_PATH}
        http["public_url"] = f"http://127.0.0.1:{port}"
    return {
        "telegram": telegram,
        "redis": {"url": redis_url},
        "storage": {"backend": "local", "local_dir": data_dir},
        "providers": {"kie": {"base_url": kie_url, "api_key": KIE_KEY}},
        "http": http,
        "log": {"level": "warning", "format": "json"},
    }


async def seed_history(redis_url: str, users: int, jobs_per_user: int) -> None:
    """Give each of the run's users ``jobs_per_user`` delivered videos, as a returning user has: the bot then
    reads that history before each ack (the active-job limit)."""
    from poller.jobs import Job, JobStatus, new_job_id
    from poller.ports import Session
    from storage.redis_jobs import RedisJobStore
    from storage.redis_support import connect_redis

    redis = connect_redis(redis_url)
    store = RedisJobStore(redis)
    created = time.time() - 86_400

    async def seed(user: int) -> None:
        for n in range(jobs_per_user):
            job = Job(
                id=new_job_id(),
                user_id=user,
                chat_id=user,
                model="veo3_fast",
                prompt=f"an earlier video, take {n}",
                status=JobStatus.SUCCEEDED,
                created_at=created + n,
                updated_at=created + n,
            )
            await store.create(job, Session(chat_id=user, user_id=user))

    try:
        for start in range(0, users, 100):
            await asyncio.gather(*(seed(FIRST_USER + i) for i in range(start, min(users, start + 100))))
    finally:
        await redis.aclose()


def serve_kie(port: int, completion_s: float) -> None:
    """The KIE simulator on ``port``, without access logs (run in a child process by :func:`kie_process`)."""
    import uvicorn

    from sandbox.kie_simulator import KieSimulator, create_app

    sim = KieSimulator(api_key=KIE_KEY, completion_s=(completion_s, completion_s))
    uvicorn.run(create_app(sim), host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def kie_process(completion_s: float) -> Iterator[tuple[str, int]]:
    """The KIE simulator in its own process (its CPU is not the harness's GIL); yields its URL and pid."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.ack_latency", "--serve-kie", str(port)]
    process = subprocess.Popen([*command, "--completion-s", str(completion_s)], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/v1/veo/record-info", process, "the KIE simulator", any_status=True)
        yield url, process.pid
    finally:
        stop_process(process, grace_s=20)


def wait_for_http(url: str, process: subprocess.Popen[Any], what: str, *, any_status: bool = False) -> None:
    """Until ``url`` answers (2xx unless ``any_status``); RuntimeError if ``process`` exits or 30 s pass."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1).is_success or any_status:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


def ack_times(emulator: TelegramEmulator, sent: dict[int, float], naive: bool) -> dict[int, float]:
    """First ack ``sendMessage`` time per chat among those we sent to."""
    acks: dict[int, float] = {}
    for call in emulator.calls("sendMessage"):
        chat_id = _chat_of(call.params)
        text = str(call.params.get("text", ""))
        if chat_id in sent and chat_id not in acks and call.ok and (naive or ACK_MARK in text):
            acks[chat_id] = call.at
    return acks


def status_edits(emulator: TelegramEmulator, sent: dict[int, float]) -> int:
    """How many status edits reached the chats we sent to (the engine's "being generated")."""
    return sum(1 for call in emulator.calls("editMessageText") if call.ok and _chat_of(call.params) in sent)


def _chat_of(params: Any) -> int | None:
    try:
        return int(params.get("chat_id"))
    except (TypeError, ValueError):
        return None


def redis_calls(redis: RedisProcess) -> dict[str, int]:
    """Calls per Redis command so far (``INFO commandstats``; Lua scripts count as ``evalsha``)."""
    with redis.client() as client:
        stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def calls_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Calls per command between two :func:`redis_calls` snapshots, most frequent first."""
    diff = {name: count - before.get(name, 0) for name, count in after.items()}
    return dict(sorted(((k, v) for k, v in diff.items() if v), key=lambda kv: -kv[1]))


class WebhookDelivery:
    """POSTs updates to the bot's webhook from a thread of its own, ``connections`` at a time, like Telegram.

    Updates are retried until the webhook answers 2xx (as Telegram does); ``failures`` counts the retries.
    """

    def __init__(self, url: str, secret: str | None, connections: int) -> None:
        self._url = url
        self._headers = {SECRET_HEADER: secret} if secret else {}
        self._connections = connections
        self._loop = asyncio.new_event_loop()
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)
        self._closing = False
        self.failures = 0

    def __enter__(self) -> WebhookDelivery:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing = True  # an update still failing now is given up
        for _ in range(self._connections):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)
        self._thread.join(30)

    def deliver(self, update: dict[str, Any]) -> None:
        """Hand one update over (thread-safe); it is posted as soon as a connection is free."""
        self._loop.call_soon_threadsafe(self._queue.put_nowait, update)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._connections)
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(self._post_each(session) for _ in range(self._connections)))

    async def _post_each(self, session: aiohttp.ClientSession) -> None:
        while (update := await self._queue.get()) is not None:
            while True:
                try:
                    async with session.post(self._url, json=update, headers=self._headers) as response:
                        if response.status < 300:
                            break
                except aiohttp.ClientError:
                    pass
                self.failures += 1
                if self._closing:
                    break
                await asyncio.sleep(0.1)


def take_over_webhook(emulator: TelegramEmulator, telegram_url: str) -> WebhookDelivery:
    """Stop the emulator's one-at-a-time dispatcher (deleteWebhook) and deliver the bot's updates from here."""
    hook = emulator.webhook()
    assert hook is not None
    httpx.post(f"{telegram_url}/bot{DEFAULT_TOKEN}/deleteWebhook", timeout=10).raise_for_status()
    return WebhookDelivery(hook.url, hook.secret_token, hook.max_connections)


def offer(
    emulator: TelegramEmulator, rate: float, prompts: int, delivery: WebhookDelivery | None = None
) -> tuple[dict[int, float], float]:
    """Queue ``prompts`` prompts, one new user each, at ``rate``/s; the send time per chat and the duration.

    With ``delivery`` each update is also POSTed to the bot's webhook from here."""
    sent: dict[int, float] = {}
    start = time.monotonic()
    for i in range(prompts):
        due = start + i / rate
        if (pause := due - time.monotonic()) > 0:
            time.sleep(pause)
        chat = FIRST_USER + i
        sent[chat] = time.time()
        update = emulator.send_text(chat, chat, f"a red fox running through snow, take {i}")
        if delivery is not None:
            delivery.deliver(update)
    return sent, time.monotonic() - start


def wait_until_receiving(emulator: TelegramEmulator, mode: str) -> None:
    """Until the bot long-polls (polling) or has set its webhook (webhook)."""
    if mode == "webhook":
        emulator.wait_for(lambda: emulator.webhook() is not None, timeout=30, what="the bot's setWebhook")
    else:
        emulator.wait_for(lambda: emulator.is_polling(), timeout=30, what="the bot's first getUpdates")


def bot_command(
    settings_path: Path, variant: Variant, kie_url: str, role: str | None = None, stall_report: Path | None = None
) -> list[str]:
    """The command line of the process under test (or, with ``role="poller"``, of its poller)."""
    command = [sys.executable, "-m", "benchmarks.reelay_process", "--settings", str(settings_path)]
    if stall_report is not None:
        command += ["--stall-report", str(stall_report)]
    if variant.naive:
        return [*command, "--naive", "--kie-url", kie_url, "--kie-key", KIE_KEY, "--poll-s", "1"]
    return [
        *command,
        *(
            "--limiter",
            variant.limiter,
            "--role",
            role or variant.process_role,
            "--telegram-http",
            variant.telegram_http,
        ),
    ]


@contextmanager
def poller_process(values: dict[str, Any], variant: Variant, kie_url: str, tmp: str) -> Iterator[int | None]:
    """With ``--role bot``, the engine runs beside the bot in a ``reelay poller`` process (its pid); else None."""
    if variant.role != "bot":
        yield None
        return
    settings_path = Path(tmp) / "poller.json"
    port = free_port()
    settings_path.write_text(json.dumps(values | {"http": {**values["http"], "port": port}}))
    with open(Path(tmp) / "poller.log", "w") as log:
        command = bot_command(settings_path, variant, kie_url, role="poller")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/readyz", process, "the poller")
        yield process.pid
    finally:
        stop_process(process, grace_s=20)


def measure(
    variant: Variant,
    rate: float,
    prompts: int,
    *,
    completion_s: float,
    wait_s: float,
    parallel_webhook: bool = True,
    stall_report: bool = False,
    history: int = 0,
) -> dict[str, Any]:
    """Start everything, offer ``prompts`` prompts at ``rate``/s, and collect the ack times (with
    ``stall_report``, the bot's event-loop stalls are printed after the run)."""
    emulator = TelegramEmulator(DEFAULT_TOKEN)
    with (
        ExitStack() as stack,
        redis_server() as redis,
        ThreadedServer(create_telegram_app(emulator)) as tg,
        kie_process(completion_s if variant.naive else REELAY_COMPLETION_S) as (kie_url, kie_pid),
        tempfile.TemporaryDirectory(prefix="reelay-bench-") as tmp,
    ):
        settings_path = Path(tmp) / "settings.json"
        values = settings_for(redis.url, tg.url, kie_url, tmp + "/videos", variant.mode)
        settings_path.write_text(json.dumps(values))
        if history:
            asyncio.run(seed_history(redis.url, prompts, history))
        poller_pid = stack.enter_context(poller_process(values, variant, kie_url, tmp))
        stalls = Path(tmp) / "stalls.txt" if stall_report else None
        with open(Path(tmp) / "bot.log", "w") as bot_log:
            process = subprocess.Popen(
                bot_command(settings_path, variant, kie_url, stall_report=stalls),
                stdout=subprocess.DEVNULL,
                stderr=bot_log,
            )
        try:
            wait_until_receiving(emulator, variant.mode)
            if not variant.naive:
                # Ready, then the idle window below: by then the engine has made its first scan. A prompt that
                # lands before that scan is adopted there as an orphan, and the worker then refuses new jobs
                # above that "fair share" (1) until its next scan, lease_s / 2 later: a 30 s engine stall.
                readyz = f"http://127.0.0.1:{values['http']['port']}/readyz"
                wait_for_http(readyz, process, "Reelay")
            delivery = None
            if variant.mode == "webhook" and parallel_webhook:
                delivery = stack.enter_context(take_over_webhook(emulator, tg.url))
            idle = CpuMeter(process.pid)
            time.sleep(IDLE_WINDOW_S)
            idle_pct = idle.percent()
            meters = [CpuMeter(pid) for pid in (process.pid, os.getpid(), redis.pid, kie_pid)]
            bot_cpu_start, started = cpu_seconds(process.pid), time.monotonic()
            poller_cpu_start = cpu_seconds(poller_pid) if poller_pid else 0.0
            calls_before = redis_calls(redis)
            with collector_paused():
                sent, offered_s = offer(emulator, rate, prompts, delivery)
                deadline = time.monotonic() + wait_s
                while time.monotonic() < deadline and len(ack_times(emulator, sent, variant.naive)) < prompts:
                    time.sleep(0.1)
            cpu_pcts = [round(meter.percent(), 1) for meter in meters]
            acks = ack_times(emulator, sent, variant.naive)
            edits_at_last_ack = status_edits(emulator, sent)
            # The engine's share of each prompt (submit, status edit) runs in the same process: wait for it
            # too, so a run cannot look faster by leaving that work undone when it stops.
            while time.monotonic() < deadline and variant.engine_runs and status_edits(emulator, sent) < len(acks):
                time.sleep(0.1)
            drained_at = time.time()
            # Net of what the process burns idle (timers, long polls), so a longer drain costs nothing.
            bot_cpu_s = cpu_seconds(process.pid) - bot_cpu_start - idle_pct / 100 * (time.monotonic() - started)
            poller_cpu_s = cpu_seconds(poller_pid) - poller_cpu_start if poller_pid else None
            edits = status_edits(emulator, sent)
            redis_per_prompt = calls_since(calls_before, redis_calls(redis))
        finally:
            stop_process(process, grace_s=20)
        if process.returncode not in (0, -15, 143):
            print((Path(tmp) / "bot.log").read_text()[-3000:], file=sys.stderr)
        if stalls is not None and stalls.exists():
            print(f"--- the bot's event loop ({variant.mode}, {rate}/s):\n{stalls.read_text()}", file=sys.stderr)
    latencies = [acks[chat] - sent[chat] for chat in acks]
    last_ack = max(acks.values(), default=time.time())
    return {
        "variant": variant.name,
        "mode": variant.mode,
        "limiter": None if variant.naive else variant.limiter,
        "role": None if variant.naive else variant.role,
        "telegram_http": None if variant.naive else variant.telegram_http,
        "offered_rate": rate,
        "prompts": prompts,
        "history_jobs_per_user": history,
        "offered_s": round(offered_s, 2),
        "acked": len(acks),
        "acks_per_s": round(len(acks) / max(1e-9, last_ack - min(sent.values())), 1),
        **summary_ms(latencies),
        "status_edits_at_last_ack": edits_at_last_ack,
        "status_edits": edits,
        "all_work_done_s": round(drained_at - min(sent.values()), 2),
        "redis_calls_per_prompt": round(sum(redis_per_prompt.values()) / prompts, 1),
        "redis_calls": redis_per_prompt,
        "bot_cpu_pct": cpu_pcts[0],
        "bot_cpu_ms_per_prompt": round(1000 * bot_cpu_s / prompts, 2),
        "bot_idle_cpu_pct": round(idle_pct, 1),
        "poller_cpu_ms_per_prompt": round(1000 * poller_cpu_s / prompts, 2) if poller_cpu_s is not None else None,
        "harness_cpu_pct": cpu_pcts[1],
        "redis_cpu_pct": cpu_pcts[2],
        "kie_cpu_pct": cpu_pcts[3],
        "provider_completion_s": completion_s if variant.naive else None,
        "webhook_delivery": ("parallel" if parallel_webhook else "emulator") if variant.mode == "webhook" else None,
        "webhook_retries": delivery.failures if delivery is not None else None,
    }


def describe(row: dict[str, Any]) -> str:
    """One line of figures for the console."""
    return (
        f"{row['variant']:<22} {row['mode']:<8} offered={row['offered_rate']:>6}/s "
        f"history={row['history_jobs_per_user']} "
        f"acked={row['acked']}/{row['prompts']} acks/s={row['acks_per_s']} "
        f"p50/p95/p99/max={row['p50_ms']}/{row['p95_ms']}/{row['p99_ms']}/{row['max_ms']} ms "
        f"edits={row['status_edits_at_last_ack']}->{row['status_edits']} done={row['all_work_done_s']} s "
        f"bot cpu/prompt={row['bot_cpu_ms_per_prompt']} ms redis/prompt={row['redis_calls_per_prompt']} "
        f"cpu bot/harness/redis/kie={row['bot_cpu_pct']}/{row['harness_cpu_pct']}/{row['redis_cpu_pct']}/"
        f"{row['kie_cpu_pct']} %"
    )


def parse_args(raw: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, nargs="+", default=[10.0, 30.0, 100.0])
    parser.add_argument("--prompts", type=int, default=300, help="prompts per rate (one new user each)")
    parser.add_argument("--mode", choices=MODES, nargs="+", default=list(MODES), help="how updates arrive")
    parser.add_argument("--limiter", choices=LIMITERS, default="wired", help="Reelay's Telegram rate limiter")
    parser.add_argument(
        "--role",
        choices=("run", "bot", "bot-alone"),
        default="run",
        help="run: bot and engine in one process (reelay run); bot: the bot process is measured, the engine "
        "runs in a second (reelay poller) process; bot-alone: no engine runs at all, so the machine's cores "
        "go to the bot (its jobs wait in Redis; the ack path alone is measured)",
    )
    parser.add_argument(
        "--webhook-delivery",
        choices=("parallel", "emulator"),
        default="parallel",
        help="parallel: POST updates max_connections at a time, like Telegram; emulator: its serial dispatcher",
    )
    parser.add_argument(
        "--telegram-http",
        choices=("aiohttp", "httpx"),
        default="aiohttp",
        help="Reelay's HTTP client for the Bot API: aiohttp (bot.aiohttp_request.AiohttpRequest, as wired) or "
        "httpx (python-telegram-bot's HTTPXRequest in its place, as wired before)",
    )
    parser.add_argument("--no-rate-limit", action="store_true", help="the same as --limiter none")
    parser.add_argument("--naive", action="store_true", help="the naive baseline bot instead of Reelay")
    parser.add_argument("--completion-s", type=float, default=3.0, help="provider generation time (naive)")
    parser.add_argument("--wait-s", type=float, default=60.0, help="how long to wait for the last acks")
    parser.add_argument("--smoke", action="store_true", help="tiny run: 10 prompts at 10/s in each mode")
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="delivered videos each user already has (returning users; the bot reads them before the ack)",
    )
    parser.add_argument(
        "--stall-report",
        action="store_true",
        help="print the bot's event-loop stalls over 20 ms (start-up included) and its collections",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--serve-kie", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(raw)
    if args.no_rate_limit:
        args.limiter = "none"
    if args.naive and "webhook" in args.mode:
        parser.error("the naive baseline bot long-polls only: use --mode polling")
    if args.smoke:
        args.rate, args.prompts, args.wait_s = [10.0], 10, 30.0
    return args


def main(argv: list[str] | None = None) -> Path | None:
    """CLI entry point; returns the JSON result path."""
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    if args.serve_kie is not None:
        serve_kie(args.serve_kie, args.completion_s)
        return None
    exit_on_sigterm()
    quiet_logs()
    rows = []
    for mode in args.mode:
        variant = Variant(mode, args.limiter, args.naive, args.role, args.telegram_http)
        for rate in args.rate:
            row = measure(
                variant,
                rate,
                args.prompts,
                completion_s=args.completion_s,
                wait_s=args.wait_s,
                parallel_webhook=args.webhook_delivery == "parallel",
                stall_report=args.stall_report,
                history=args.history,
            )
            print(describe(row), flush=True)
            rows.append(row)
    name = "ack_latency_smoke" if args.smoke else f"ack_latency_{rows[0]['variant']}"
    if args.history and not args.smoke:
        name += f"_history_{args.history}"
    result = {"command": "python -m benchmarks.ack_latency " + " ".join(raw), "rows": rows}
    path = write_result(name, result, args.out)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
