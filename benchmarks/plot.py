"""Plots of the benchmark results (needs the ``bench`` group: ``uv run --group bench python -m benchmarks.plot``).

Reads ``benchmarks/results/engine_capacity_*.json`` and writes ``docs/img/engine_*.png``: polls/s, lag
p99 and CPU against the wanted poll rate (jobs in flight ÷ interval, so 10 s and 60 s runs share an
axis), one line per HTTP client, interval and number of poller processes.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib  # type: ignore[import-not-found,unused-ignore]

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

from benchmarks.common import RESULTS_DIR

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"


def main() -> None:
    """Write the engine capacity plots."""
    OUT.mkdir(parents=True, exist_ok=True)
    series: dict[str, list[dict[str, float]]] = {}
    newest: dict[str, dict[int, tuple[str, dict[str, float]]]] = {}
    for path in sorted(RESULTS_DIR.glob("engine_capacity_*.json")):
        data = json.loads(path.read_text())
        rows = sorted(data["rows"], key=lambda r: r["jobs"])
        pollers = rows[0].get("pollers", 1) if rows else 1
        title = f"{data['http']}, {int(data['interval_s'])} s" + (f", {pollers} pollers" if pollers > 1 else "")
        if data.get("event_loop") == "uvloop":  # the comparison runs (Reelay ships on asyncio's loop)
            title += ", uvloop"
        if "--full-gc-midway" in data.get("command", ""):
            title += ", a full GC forced"
        quota = rows[0].get("cpu_quota_cores_per_poller") if rows else None
        if quota is not None:  # the scaling runs: each poller held to a fixed share of a core
            title += f", {quota:g} core each"
        # Runs of one kind join; where two measured the same job count, the newest stands (today's code).
        for row in rows:
            held = newest.setdefault(title, {}).get(row["jobs"])
            if held is None or data["measured_at"] >= held[0]:
                newest[title][row["jobs"]] = (data["measured_at"], row)
    for title, by_jobs in newest.items():
        series[title] = [row for _, (_, row) in sorted(by_jobs.items())]
    panels = [
        ("polls_per_s", "polls/s", "engine_polls.png"),
        ("lag_p99_s", "lag p99 (s)", "engine_lag.png"),
        ("engine_cpu_pct", "engine CPU (% of a core)", "engine_cpu.png"),
    ]
    for key, label, name in panels:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for title, rows in series.items():
            ax.plot([r["jobs"] / r["interval_s"] for r in rows], [r[key] for r in rows], marker="o", label=title)
        ax.set_xlabel("wanted polls/s (jobs in flight ÷ interval)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(OUT / name, dpi=110)
        plt.close(fig)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
