"""The machine the portal runs on: CPU, memory, disk and network via psutil, bounded by the container.

Inside a container psutil reports the host (all its CPUs, all its memory: giampaolo/psutil#2100), so
the cgroup limits are read too (v2 `/sys/fs/cgroup/{cpu.max,memory.max,memory.current}`, else v1
`cpu.cfs_quota_us`/`memory.limit_in_bytes`) and, when present, CPU % is relative to the CPUs the
container may use and memory % to its limit. Disk is the filesystem holding the app's writable data
(the instance folder: SQLite, the session secret, logs by default).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil

CGROUP_ROOT = "/sys/fs/cgroup"


@dataclass(frozen=True)
class CgroupLimits:
    version: int | None  # 2, 1 or None (no cgroup filesystem readable)
    cpu_limit: float | None  # CPUs the container may use (quota / period); None = unlimited
    memory_limit: int | None  # bytes; None = unlimited
    memory_used: int | None  # bytes charged to the cgroup (page cache included, as the kernel counts it)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _as_int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def cgroup_limits(root: str = CGROUP_ROOT) -> CgroupLimits:
    """The limits of this process's cgroup, read from the cgroup filesystem mounted at `root`."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):  # v2, unified hierarchy
        cpu_limit = None
        cpu_max = _read(os.path.join(root, "cpu.max"))
        if cpu_max:
            quota, _, period = cpu_max.partition(" ")
            if quota != "max" and _as_int(quota) and _as_int(period):
                cpu_limit = int(quota) / int(period)
        memory_max = _read(os.path.join(root, "memory.max"))
        memory_limit = None if memory_max in (None, "max") else _as_int(memory_max)
        return CgroupLimits(2, cpu_limit, memory_limit, _as_int(_read(os.path.join(root, "memory.current"))))
    quota = _as_int(_read(os.path.join(root, "cpu", "cpu.cfs_quota_us")) or
                    _read(os.path.join(root, "cpu,cpuacct", "cpu.cfs_quota_us")))
    period = _as_int(_read(os.path.join(root, "cpu", "cpu.cfs_period_us")) or
                     _read(os.path.join(root, "cpu,cpuacct", "cpu.cfs_period_us")))
    limit = _as_int(_read(os.path.join(root, "memory", "memory.limit_in_bytes")))
    used = _as_int(_read(os.path.join(root, "memory", "memory.usage_in_bytes")))
    if quota is None and limit is None:
        return CgroupLimits(None, None, None, None)
    cpu_limit = quota / period if quota and quota > 0 and period else None
    # v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages).
    memory_limit = limit if limit is not None and limit < 1 << 60 else None
    return CgroupLimits(1, cpu_limit, memory_limit, used)


def _effective_cpus(limits: CgroupLimits) -> float:
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = psutil.cpu_count() or 1
    return min(available, limits.cpu_limit) if limits.cpu_limit else float(available)


def cpu_percent(limits: CgroupLimits) -> float:
    """CPU use since the previous call (non-blocking), as a share of the CPUs this container may use.

    psutil's figure is host-wide; scaled by host CPUs / allowed CPUs it becomes the container's view
    (a container with 1 CPU on a 4-CPU host that uses one CPU fully is at 100 %, not 25 %).
    """
    host = psutil.cpu_percent(interval=None)
    host_cpus = psutil.cpu_count() or 1
    allowed = _effective_cpus(limits)
    return round(min(100.0, host * host_cpus / allowed), 1)


def memory(limits: CgroupLimits) -> dict:
    """Total, used and percent: the cgroup's limit and usage when it has a limit, else the host's."""
    if limits.memory_limit and limits.memory_used is not None:
        return {"total_bytes": limits.memory_limit, "used_bytes": limits.memory_used,
                "percent": round(100 * limits.memory_used / limits.memory_limit, 1), "source": "cgroup"}
    vm = psutil.virtual_memory()
    return {"total_bytes": vm.total, "used_bytes": vm.total - vm.available, "percent": round(vm.percent, 1),
            "source": "host"}


def disk(path: str) -> dict:
    usage = psutil.disk_usage(path)
    return {"path": path, "total_bytes": usage.total, "used_bytes": usage.used, "free_bytes": usage.free,
            "percent": round(usage.percent, 1)}


def network() -> dict:
    counters = psutil.net_io_counters()
    if counters is None:
        return {}
    return {"bytes_sent": counters.bytes_sent, "bytes_recv": counters.bytes_recv,
            "packets_sent": counters.packets_sent, "packets_recv": counters.packets_recv,
            "errin": counters.errin, "errout": counters.errout}


def snapshot(data_path: str, cgroup_root: str = CGROUP_ROOT) -> dict:
    """CPU, memory, disk, network, load and uptime, in one dictionary (JSON-ready)."""
    limits = cgroup_limits(cgroup_root)
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    process = psutil.Process()
    with process.oneshot():
        process_info = {"pid": process.pid, "rss_bytes": process.memory_info().rss,
                        "threads": process.num_threads(), "started_at": process.create_time()}
    return {
        "cpu": {"percent": cpu_percent(limits), "cpus_allowed": _effective_cpus(limits),
                "host_cpus": psutil.cpu_count() or 1, "load_average": load},
        "memory": memory(limits),
        "disk": disk(data_path),
        "network": network(),
        "cgroup": {"version": limits.version, "cpu_limit": limits.cpu_limit, "memory_limit_bytes": limits.memory_limit},
        "process": process_info,
        "boot_time": psutil.boot_time(),
        "time": time.time(),
    }
