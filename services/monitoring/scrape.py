"""Reading the portal's metrics back: one merged view for /metrics and the dashboard.

Under gunicorn every worker writes its own files (services.monitoring.metrics); `collect()` merges them under a
shared lock, `compact_dead_worker()` folds a dead worker's files into an archive (exclusive lock) so its counts
survive without being counted twice, and `Snapshot` answers the dashboard's questions over the merged families.
"""
from __future__ import annotations

import contextlib
import fcntl
import glob
import math
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client import REGISTRY as _DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, generate_latest

from services.monitoring import metrics
from services.monitoring.metrics import multiprocess_dir


def _lock_path(directory: str) -> str:
    return os.path.join(directory, ".compaction.lock")  # not *.db: the collector never reads it


@contextlib.contextmanager
def _directory_lock(directory: str, exclusive: bool):
    """Scrapes take it shared, compaction exclusive: a scrape never sees a dead worker's values twice
    (in its file and in the archive) or not at all."""
    with open(_lock_path(directory), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def registry():
    """The registry a scrape reads: a merging one over the worker files, or the process's own."""
    directory = multiprocess_dir()
    if directory:
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=directory)
        return merged
    return _DEFAULT_REGISTRY


def collect() -> list:
    """The metric families of the whole server (every worker's files merged under gunicorn)."""
    metrics.publish_request_metrics()  # this process's latest requests first
    directory = multiprocess_dir()
    if not directory:
        return list(_DEFAULT_REGISTRY.collect())
    with _directory_lock(directory, exclusive=False):
        return list(registry().collect())


class _Families:
    def __init__(self, families):
        self.families = families

    def collect(self):
        return self.families


def exposition(families: list | None = None) -> bytes:
    """The Prometheus text format of all metrics (all workers under gunicorn)."""
    return generate_latest(_Families(collect() if families is None else families))


# -- snapshot: the samples the dashboard needs, as plain data -------------------------------------------
@dataclass
class Histo:
    """A merged histogram: cumulative counts per upper bound (+Inf last), the count and the sum."""

    buckets: dict[float, float] = field(default_factory=dict)
    count: float = 0.0
    total: float = 0.0

    def add(self, other: Histo) -> None:
        for bound, value in other.buckets.items():
            self.buckets[bound] = self.buckets.get(bound, 0.0) + value
        self.count += other.count
        self.total += other.total

    def minus(self, earlier: Histo | None) -> Histo:
        """The observations made since `earlier` (a previous snapshot of the same histogram)."""
        if earlier is None:
            return self
        return Histo({b: max(0.0, v - earlier.buckets.get(b, 0.0)) for b, v in self.buckets.items()},
                     max(0.0, self.count - earlier.count), max(0.0, self.total - earlier.total))

    def quantile(self, q: float) -> float | None:
        return histogram_quantile(q, sorted(self.buckets.items()))

    def to_json(self) -> dict:
        return {"buckets": [[b if math.isfinite(b) else "+Inf", v] for b, v in sorted(self.buckets.items())],
                "count": self.count, "sum": self.total}

    @classmethod
    def from_json(cls, data: dict) -> Histo:
        return cls({math.inf if b == "+Inf" else float(b): float(v) for b, v in data["buckets"]},
                   float(data["count"]), float(data["sum"]))


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile from cumulative (upper bound, count) pairs sorted by bound, as Prometheus's
    histogram_quantile computes it: linear interpolation inside the bucket holding the rank, the lower
    bound of the first bucket taken as 0, and the highest finite bound when the rank falls in +Inf.
    None when there are no observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank and count > lower_count:
            if math.isinf(bound):
                return lower_bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = (bound if math.isfinite(bound) else lower_bound), count
    return lower_bound


class Snapshot:
    """The merged samples at one moment: `values[sample name]` is a list of (labels, value)."""

    def __init__(self, families: list | None = None, taken_at: float | None = None):
        self.taken_at = taken_at or time.time()
        self.values: dict[str, list[tuple[dict, float]]] = defaultdict(list)
        for family in collect() if families is None else families:
            for sample in family.samples:
                self.values[sample.name].append((sample.labels, sample.value))

    def total(self, name: str, **match) -> float:
        return sum(v for labels, v in self.values.get(name, ()) if _matches(labels, match))

    def by(self, name: str, label: str, **match) -> dict[str, float]:
        result: dict[str, float] = defaultdict(float)
        for labels, value in self.values.get(name, ()):
            if _matches(labels, match):
                result[labels.get(label, "")] += value
        return dict(result)

    def gauge_max(self, name: str, label: str) -> dict[str, float]:
        result: dict[str, float] = {}
        for labels, value in self.values.get(name, ()):
            key = labels.get(label, "")
            result[key] = max(value, result.get(key, value))
        return result

    def histogram(self, base: str, **match) -> Histo:
        """The histogram `base` merged over every label combination that matches."""
        merged = Histo()
        for labels, value in self.values.get(base + "_bucket", ()):
            if _matches(labels, match):
                bound = float(labels["le"])
                merged.buckets[bound] = merged.buckets.get(bound, 0.0) + value
        merged.count = self.total(base + "_count", **match)
        merged.total = self.total(base + "_sum", **match)
        return merged

    def histograms_by(self, base: str, label: str) -> dict[str, Histo]:
        return {key: self.histogram(base, **{label: key}) for key in self.by(base + "_count", label)}


def _matches(labels: dict, match: dict) -> bool:
    return all(labels.get(k) == v for k, v in match.items())


# -- multiprocess directory upkeep (called by gunicorn.conf.py in the master) --------------------------
_SUMMED_TYPES = ("counter", "histogram", "summary")


def compact_dead_worker(pid: int, directory: str) -> None:
    """Fold a dead worker's files into one archive file per type, then delete them.

    prometheus_client keeps every dead worker's counter and histogram files (deleting them would make
    totals go backwards), so with `max_requests` recycling workers the directory grows and scrapes slow
    down (client_python #204/#443). Folding them into `<type>_archive.db` keeps the totals and keeps the
    file count at live workers + a handful. Live gauges of the dead worker are dropped (mark_process_dead),
    sum/max/min gauges folded with their own rule. Runs in the gunicorn master only (one writer).
    """
    from prometheus_client import multiprocess
    from prometheus_client.mmap_dict import MmapedDict

    multiprocess.mark_process_dead(pid, directory)
    with _directory_lock(directory, exclusive=True):
        for path in glob.glob(os.path.join(directory, f"*_{pid}.db")):
            parts = os.path.basename(path)[:-3].split("_")
            kind = parts[0]
            mode = parts[1] if kind == "gauge" and len(parts) == 3 else None
            if kind in _SUMMED_TYPES or mode in ("sum", "max", "min"):
                archive_name = f"{kind}_archive.db" if mode is None else f"gauge_{mode}_archive.db"
                archive = MmapedDict(os.path.join(directory, archive_name))
                try:
                    existing = {key: value for key, value, _ in archive.read_all_values()}
                    for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(path):
                        old = existing.get(key)
                        if old is None:
                            new = value
                        elif mode == "max":
                            new = max(old, value)
                        elif mode == "min":
                            new = min(old, value)
                        else:
                            new = old + value
                        archive.write_value(key, new, timestamp)
                finally:
                    archive.close()
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def reset_directory(directory: str) -> None:
    """Empty the directory before the master starts workers: last run's counts must not leak in."""
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


