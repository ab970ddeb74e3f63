"""The analytics summary as people read it: ``reelay stats`` in a terminal and ``/stats`` in Telegram share it."""

from __future__ import annotations

import re
import time

from storage.analytics import ModelStats, Summary

_SINCE = re.compile(r"^(\d+)([hd])$")


def parse_since(text: str) -> int:
    """Seconds back from now for ``24h``, ``7d``, ``30d`` (or any ``<n>h`` / ``<n>d``); ValueError otherwise."""
    match = _SINCE.fullmatch(text.strip())
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"--since takes a number of hours or days such as 24h, 7d or 30d, not {text!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return amount * (3600 if unit == "h" else 86400)


def format_summary(summary: Summary, *, now: float | None = None) -> str:
    """A plain-text report: one block per model, then the totals."""
    hours = max(1, round(((time.time() if now is None else now) - summary.since) / 3600))
    lines = [f"Videos that ended in the last {_span(hours)}:"]
    if not summary.models:
        lines.append("none yet.")
        return "\n".join(lines)
    for stats in [*summary.models, summary.totals]:
        lines.append("")
        lines += _block(stats)
    return "\n".join(lines)


def _block(stats: ModelStats) -> list[str]:
    title = "All models" if stats.model == "total" else stats.model
    lines = [
        f"{title}: {stats.jobs} jobs, {_percent(stats.success_rate)} succeeded "
        f"({stats.succeeded} ok, {stats.failed} failed, {stats.cancelled} cancelled)",
        f"  generation p50 {_seconds(stats.generation_percentile(0.5))}, "
        f"p95 {_seconds(stats.generation_percentile(0.95))}; {_number(stats.attempts_mean)} polls per job",
        f"  provider cost per video: {_number(stats.cost_per_video)}",
    ]
    if stats.errors:
        failures = ", ".join(f"{code} {count}" for code, count in sorted(stats.errors.items(), key=lambda e: -e[1]))
        lines.append(f"  failures: {failures}")
    if stats.late_delivered:
        lines.append(f"  delivered late (after a timeout): {stats.late_delivered}")
    return lines


def _span(hours: int) -> str:
    return f"{hours // 24} days" if hours % 24 == 0 and hours >= 48 else f"{hours} h"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} s"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
