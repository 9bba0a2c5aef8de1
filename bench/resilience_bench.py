"""Cost of the resilience layer, in-process: an open breaker's fail-fast and a healthy guarded call.

    .venv/bin/python bench/resilience_bench.py

Runs a fake dependency on loopback (tests/fake_dependency.py), trips the breaker against it, then times
10,000 rejected calls; and times 2,000 healthy calls with and without the layer around httpx.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

import httpx

from services.resilience.breaker import BreakerConfig, BreakerOpen
from services.resilience.errors import DependencyFailed
from services.resilience.http import Dependency, DependencySettings
from services.resilience.retry import RetryPolicy
from tests.fake_dependency import FakeDependency
from utils import json_log


def percentiles(samples_s: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_s)
    return statistics.median(ordered) * 1e6, ordered[int(len(ordered) * 0.99)] * 1e6


def main() -> None:
    # The app's own logging, to a scratch file: every attempt and rejection writes its JSON line, as in production.
    json_log.configure("INFO", str(Path(tempfile.mkdtemp()) / "bench.log"))
    dependency = FakeDependency()
    settings = DependencySettings(base_url=dependency.url, breaker=BreakerConfig(minimum_calls=5),
                                  retry=RetryPolicy(max_attempts=1, deadline_s=5))
    dep = Dependency("bench", settings)
    try:
        healthy = []
        for _ in range(2000):
            started = time.perf_counter()
            dep.request("GET", "/x")
            healthy.append(time.perf_counter() - started)
        raw = []
        with httpx.Client(base_url=dependency.url) as client:
            for _ in range(2000):
                started = time.perf_counter()
                client.get("/x")
                raw.append(time.perf_counter() - started)
        dependency.set("503")
        dep.close()
        dep = Dependency("bench", settings)  # a fresh window: 5 failures in 2,000 successes trip nothing
        for _ in range(5):
            with contextlib.suppress(DependencyFailed):
                dep.request("GET", "/x")
        before = dependency.count
        rejected = []
        for _ in range(10_000):
            started = time.perf_counter()
            with contextlib.suppress(BreakerOpen):
                dep.request("GET", "/x")
            rejected.append(time.perf_counter() - started)
        reached = dependency.count - before
    finally:
        dep.close()
        dependency.stop()
    print(f"{'measure':44} {'p50 µs':>9} {'p99 µs':>9}")
    for label, samples in (("open breaker, 10,000 rejected calls", rejected),
                           ("healthy call through the layer (2,000)", healthy),
                           ("same call with bare httpx (2,000)", raw)):
        p50, p99 = percentiles(samples)
        print(f"{label:44} {p50:9.1f} {p99:9.1f}")
    print(f"dependency requests while open: {reached}")


if __name__ == "__main__":
    main()
