"""Ack latency under load: simulated users send prompts through the Telegram emulator to a running Reelay.

Reelay runs in its own process (``benchmarks.reelay_process``, long polling, real redis-server, local
blob store); the Telegram emulator and the KIE simulator run here. Each prompt comes from a new user at
a fixed rate; latency is from the update being queued at the emulator (``send_text``) until the
emulator receives the ``sendMessage`` "Video generating…" to that chat (the emulator records call times).

    uv run python -m benchmarks.ack_latency --rate 20 --prompts 200
    uv run python -m benchmarks.ack_latency --rate 100 --prompts 600 --no-rate-limit
    uv run python -m benchmarks.ack_latency --rate 5 --prompts 20 --naive          # the naive baseline
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import CpuMeter, exit_on_sigterm, quiet_logs, redis_server, summary_ms, write_result
from sandbox.kie_simulator import KieSimulator
from sandbox.kie_simulator import create_app as create_kie_app
from sandbox.serve import ThreadedServer, free_port
from sandbox.telegram import DEFAULT_TOKEN, TelegramEmulator
from sandbox.telegram import create_app as create_telegram_app

KIE_KEY = "bench-kie-key"
FIRST_USER = 500_000
ACK_MARK = "Video generating"


def settings_for(redis_url: str, telegram_url: str, kie_url: str, data_dir: str) -> dict[str, Any]:
    """A local Reelay: long polling, local blobs, default 60 s polling (only submissions happen here)."""
    return {
        "telegram": {"token": DEFAULT_TOKEN, "api_base_url": f"{telegram_url}/bot"},
        "redis": {"url": redis_url},
        "storage": {"backend": "local", "local_dir": data_dir},
        "providers": {"kie": {"base_url": kie_url, "api_key": KIE_KEY}},
        "http": {"port": free_port()},
        "log": {"level": "warning", "format": "json"},
    }


def ack_times(emulator: TelegramEmulator, sent: dict[int, float], naive: bool) -> dict[int, float]:
    """First ack ``sendMessage`` time per chat among those we sent to."""
    acks: dict[int, float] = {}
    for call in emulator.calls("sendMessage"):
        chat = call.params.get("chat_id")
        try:
            chat_id = int(chat)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        text = str(call.params.get("text", ""))
        if chat_id in sent and chat_id not in acks and call.ok and (naive or ACK_MARK in text):
            acks[chat_id] = call.at
    return acks


def measure(
    rate: float, prompts: int, *, no_rate_limit: bool, naive: bool, completion_s: float, wait_s: float
) -> dict[str, Any]:
    """Start everything, offer ``prompts`` prompts at ``rate``/s, and collect the ack times."""
    emulator = TelegramEmulator(DEFAULT_TOKEN)
    sim = KieSimulator(api_key=KIE_KEY, completion_s=(completion_s, completion_s))
    with (
        redis_server() as redis,
        ThreadedServer(create_telegram_app(emulator)) as tg,
        ThreadedServer(create_kie_app(sim)) as kie,
        tempfile.TemporaryDirectory(prefix="reelay-bench-") as tmp,
    ):
        settings_path = Path(tmp) / "settings.json"
        settings_path.write_text(json.dumps(settings_for(redis.url, tg.url, kie.url, tmp + "/videos")))
        command = [sys.executable, "-m", "benchmarks.reelay_process", "--settings", str(settings_path)]
        if no_rate_limit:
            command.append("--no-rate-limit")
        if naive:
            command += ["--naive", "--kie-url", kie.url, "--kie-key", KIE_KEY, "--poll-s", "1"]
        with open(Path(tmp) / "bot.log", "w") as bot_log:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=bot_log)
        try:
            emulator.wait_for(lambda: emulator.is_polling(), timeout=30, what="the bot's first getUpdates")
            cpu = CpuMeter(process.pid)
            sent: dict[int, float] = {}
            start = time.monotonic()
            for i in range(prompts):
                due = start + i / rate
                if (pause := due - time.monotonic()) > 0:
                    time.sleep(pause)
                chat = FIRST_USER + i
                sent[chat] = time.time()
                emulator.send_text(chat, chat, f"a red fox running through snow, take {i}")
            offered_s = time.monotonic() - start
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and len(ack_times(emulator, sent, naive)) < prompts:
                time.sleep(0.1)
            bot_cpu = cpu.percent()
            acks = ack_times(emulator, sent, naive)
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        latencies = [acks[chat] - sent[chat] for chat in acks]
        last_ack = max(acks.values(), default=time.time())
        first_sent = min(sent.values())
        return {
            "mode": "naive" if naive else ("reelay_no_rate_limit" if no_rate_limit else "reelay"),
            "offered_rate": rate,
            "prompts": prompts,
            "offered_s": round(offered_s, 2),
            "acked": len(acks),
            "acks_per_s": round(len(acks) / max(1e-9, last_ack - first_sent), 1),
            **summary_ms(latencies),
            "bot_cpu_pct": round(bot_cpu, 1),
            "provider_completion_s": completion_s if naive else None,
        }


def main(argv: list[str] | None = None) -> Path:
    """CLI entry point; returns the JSON result path."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, nargs="+", default=[10.0, 30.0, 100.0])
    parser.add_argument("--prompts", type=int, default=300, help="prompts per rate (one new user each)")
    parser.add_argument("--no-rate-limit", action="store_true", help="leave PTB's 30 msg/s limiter out")
    parser.add_argument("--naive", action="store_true", help="the naive baseline bot instead of Reelay")
    parser.add_argument("--completion-s", type=float, default=3.0, help="provider generation time (naive)")
    parser.add_argument("--wait-s", type=float, default=60.0, help="how long to wait for the last acks")
    parser.add_argument("--smoke", action="store_true", help="tiny run: 10 prompts at 10/s")
    parser.add_argument("--out", type=Path, default=None)
    exit_on_sigterm()
    quiet_logs()
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    if args.smoke:
        args.rate, args.prompts, args.wait_s = [10.0], 10, 30.0
    rows = []
    for rate in args.rate:
        row = measure(
            rate,
            args.prompts,
            no_rate_limit=args.no_rate_limit,
            naive=args.naive,
            completion_s=args.completion_s,
            wait_s=args.wait_s,
        )
        print(
            f"{row['mode']:<21} offered={rate:>6}/s acked={row['acked']}/{row['prompts']} "
            f"acks/s={row['acks_per_s']} p50/p95/p99/max={row['p50_ms']}/{row['p95_ms']}/{row['p99_ms']}/"
            f"{row['max_ms']} ms bot cpu={row['bot_cpu_pct']} %",
            flush=True,
        )
        rows.append(row)
    mode = rows[0]["mode"]
    name = "ack_latency_smoke" if args.smoke else f"ack_latency_{mode}"
    result = {"command": "python -m benchmarks.ack_latency " + " ".join(raw), "rows": rows}
    path = write_result(name, result, args.out)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
