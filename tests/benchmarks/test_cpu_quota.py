"""benchmarks.cpu_quota against cgroup trees laid out in a temporary directory (v1 and v2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.cpu_quota import CpuQuota, CpuQuotaUnavailable, own_throttled_s


def v1_tree(root: Path) -> Path:
    cpu = root / "cpu"
    cpu.mkdir(parents=True)
    (cpu / "cpu.cfs_quota_us").write_text("-1")
    return cpu


def test_v1_sets_period_and_quota_and_adds_the_process(tmp_path: Path) -> None:
    v1_tree(tmp_path)

    quota = CpuQuota("bench-poller-0", 0.4, root=tmp_path)
    quota.add(4242)

    assert quota.path == tmp_path / "cpu" / "bench-poller-0"
    assert (quota.path / "cpu.cfs_period_us").read_text() == "100000"
    assert (quota.path / "cpu.cfs_quota_us").read_text() == "40000"
    assert (quota.path / "cgroup.procs").read_text() == "4242"
    assert quota.cores == 0.4


def test_v2_enables_the_controller_and_writes_cpu_max(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("memory\n")

    quota = CpuQuota("bench-poller-1", 1.5, root=tmp_path)

    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu"
    assert (quota.path / "cpu.max").read_text() == "150000 100000"


def test_a_tiny_quota_is_raised_to_the_kernels_minimum(tmp_path: Path) -> None:
    v1_tree(tmp_path)
    assert CpuQuota("tiny", 0.001, root=tmp_path).cores == 0.01


def test_no_cpu_controller_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("memory pids\n")
    with pytest.raises(CpuQuotaUnavailable, match="no cgroup cpu controller"):
        CpuQuota("x", 0.5, root=tmp_path)


def test_an_unwritable_tree_is_a_clear_error(tmp_path: Path) -> None:
    cpu = v1_tree(tmp_path)
    (cpu / "blocked").write_text("a file where the group's directory would go")
    with pytest.raises(CpuQuotaUnavailable, match="cannot set a CPU quota"):
        CpuQuota("blocked", 0.5, root=tmp_path)


def test_a_non_positive_share_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        CpuQuota("x", 0, root=tmp_path)


def test_remove_deletes_the_group_and_tolerates_it_gone(tmp_path: Path) -> None:
    v1_tree(tmp_path)
    quota = CpuQuota("gone", 0.5, root=tmp_path)
    for name in ("cpu.cfs_period_us", "cpu.cfs_quota_us"):
        (quota.path / name).unlink()  # the kernel's files vanish with the group; these are plain files here

    quota.remove()
    quota.remove()

    assert not quota.path.exists()


def test_own_throttling_is_read_from_the_processs_group_in_v1_and_v2(tmp_path: Path) -> None:
    group = v1_tree(tmp_path) / "bench"
    group.mkdir()
    (group / "cpu.stat").write_text("nr_periods 24\nnr_throttled 21\nthrottled_time 1045852925\n")
    membership = tmp_path / "cgroup"
    membership.write_text("4:memory:/elsewhere\n1:cpu:/bench\n0::/\n")
    assert own_throttled_s(tmp_path, membership) == pytest.approx(1.045852925)

    (tmp_path / "unified").mkdir()
    (tmp_path / "unified" / "cpu.stat").write_text("usage_usec 9\nthrottled_usec 2500000\n")
    membership.write_text("0::/unified\n")
    assert own_throttled_s(tmp_path, membership) == 2.5

    membership.write_text("0::/\n")
    assert own_throttled_s(tmp_path, membership) == 0.0
