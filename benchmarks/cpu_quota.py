"""Cap a process's CPU with a Linux cgroup quota, so a benchmark can give each poller a fixed share of a core.

"Twice the polls with two pollers, given the cores" cannot be run at full size on a 2-core machine: two pollers at
a core each leave nothing for Redis and the stand-in provider. Scaled down it can: each poller gets the same
fraction of a core (say 0.4), and two of them should hold twice the polls of one, with the rest of the machine
left to Redis and the stand-in. Needs root and a writable cgroup ``cpu`` controller (v1 or v2).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


class CpuQuotaUnavailable(RuntimeError):
    """This machine gives no writable cgroup CPU controller (not Linux, not root, or no ``cpu`` controller)."""


class CpuQuota:
    """One cgroup holding processes to ``cores`` of CPU time per wall second; removed by :meth:`remove`."""

    def __init__(self, name: str, cores: float, root: Path = CGROUP_ROOT) -> None:
        if cores <= 0:
            raise ValueError("cores must be positive")
        quota_us = max(1000, round(cores * PERIOD_US))
        v1 = root / "cpu"
        try:
            if (v1 / "cpu.cfs_quota_us").exists():
                self.path = v1 / name
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (self.path / "cpu.cfs_quota_us").write_text(str(quota_us))
            elif "cpu" in _read(root / "cgroup.controllers").split():
                if "cpu" not in _read(root / "cgroup.subtree_control").split():
                    (root / "cgroup.subtree_control").write_text("+cpu")
                self.path = root / name
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.max").write_text(f"{quota_us} {PERIOD_US}")
            else:
                raise CpuQuotaUnavailable(f"no cgroup cpu controller under {root}")
        except OSError as exc:
            raise CpuQuotaUnavailable(f"cannot set a CPU quota under {root}: {exc}") from exc
        self.cores = quota_us / PERIOD_US

    def add(self, pid: int) -> None:
        """Move a process (all its threads) into the group."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        """Delete the group (its processes must have exited or moved)."""
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(self.path)


def own_throttled_s(root: Path = CGROUP_ROOT, membership: Path = Path("/proc/self/cgroup")) -> float:
    """Seconds this process's CPU cgroup has been held back by its quota (0 outside any quota)."""
    for line in _read(membership).splitlines():
        _, controllers, group = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return _throttled_s(root / "cpu" / group.lstrip("/"))
        if controllers == "" and group != "/":
            return _throttled_s(root / group.lstrip("/"))
    return 0.0


def _throttled_s(group: Path) -> float:
    stats = dict(line.split() for line in _read(group / "cpu.stat").splitlines() if line.strip())
    if "throttled_time" in stats:  # v1: nanoseconds
        return int(stats["throttled_time"]) / 1e9
    return int(stats.get("throttled_usec", "0")) / 1e6


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
