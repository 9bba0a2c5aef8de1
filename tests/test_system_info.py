"""Host and container figures: cgroup v2 and v1 limits, disk of the data folder."""
from __future__ import annotations

from services.monitoring import system_info


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def test_cgroup_v2_limits(tmp_path):
    _write(tmp_path / "cgroup.controllers", "cpu memory")
    _write(tmp_path / "cpu.max", "100000 100000")
    _write(tmp_path / "memory.max", str(512 * 1024 * 1024))
    _write(tmp_path / "memory.current", str(256 * 1024 * 1024))
    limits = system_info.cgroup_limits(str(tmp_path))
    assert limits == system_info.CgroupLimits(2, 1.0, 512 * 1024 * 1024, 256 * 1024 * 1024)
    memory = system_info.memory(limits)
    # M6: in a container limited to 512 MiB the reported total is 512 MiB, not the host's.
    assert memory["total_bytes"] == 512 * 1024 * 1024 and memory["percent"] == 50.0 and memory["source"] == "cgroup"


def test_cgroup_v2_unlimited(tmp_path):
    _write(tmp_path / "cgroup.controllers", "cpu memory")
    _write(tmp_path / "cpu.max", "max 100000")
    _write(tmp_path / "memory.max", "max")
    limits = system_info.cgroup_limits(str(tmp_path))
    assert limits.version == 2 and limits.cpu_limit is None and limits.memory_limit is None
    assert system_info.memory(limits)["source"] == "host"


def test_cgroup_v1_limits(tmp_path):
    _write(tmp_path / "cpu" / "cpu.cfs_quota_us", "50000")
    _write(tmp_path / "cpu" / "cpu.cfs_period_us", "100000")
    _write(tmp_path / "memory" / "memory.limit_in_bytes", str(1 << 30))
    _write(tmp_path / "memory" / "memory.usage_in_bytes", str(1 << 29))
    limits = system_info.cgroup_limits(str(tmp_path))
    assert limits == system_info.CgroupLimits(1, 0.5, 1 << 30, 1 << 29)
    _write(tmp_path / "memory" / "memory.limit_in_bytes", str(9223372036854771712))  # v1 "unlimited"
    _write(tmp_path / "cpu" / "cpu.cfs_quota_us", "-1")
    limits = system_info.cgroup_limits(str(tmp_path))
    assert limits.memory_limit is None and limits.cpu_limit is None


def test_no_cgroup_filesystem(tmp_path):
    assert system_info.cgroup_limits(str(tmp_path)) == system_info.CgroupLimits(None, None, None, None)


def test_cpu_percent_is_relative_to_the_allowed_cpus(monkeypatch):
    monkeypatch.setattr(system_info.psutil, "cpu_percent", lambda interval=None: 25.0)
    monkeypatch.setattr(system_info.psutil, "cpu_count", lambda logical=True: 4)
    monkeypatch.setattr(system_info.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    one_cpu = system_info.CgroupLimits(2, 1.0, None, None)
    assert system_info.cpu_percent(one_cpu) == 100.0  # one of four host CPUs busy = the container's one CPU
    assert system_info.cpu_percent(system_info.CgroupLimits(None, None, None, None)) == 25.0


def test_snapshot_reports_the_disk_holding_the_data(tmp_path):
    info = system_info.snapshot(str(tmp_path))
    assert info["disk"]["path"] == str(tmp_path)
    assert 0 <= info["disk"]["percent"] <= 100 and info["disk"]["total_bytes"] > 0
    assert info["memory"]["total_bytes"] > 0 and 0 <= info["cpu"]["percent"] <= 100
    assert "bytes_sent" in info["network"]
