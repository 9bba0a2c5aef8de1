"""Metrics: request counting by route template, percentiles from buckets, multiprocess compaction."""
from __future__ import annotations

import glob
import math
import os
import shutil
import subprocess
import sys

import pytest

from services.monitoring import metrics, scrape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quantile_interpolates_inside_the_bucket_like_prometheus():
    buckets = [(0.01, 10.0), (0.1, 90.0), (1.0, 100.0), (math.inf, 100.0)]
    assert scrape.histogram_quantile(0.05, buckets) == pytest.approx(0.005)
    assert scrape.histogram_quantile(0.5, buckets) == pytest.approx(0.01 + 0.09 * 40 / 80)
    assert scrape.histogram_quantile(0.95, buckets) == pytest.approx(0.1 + 0.9 * 5 / 10)
    assert scrape.histogram_quantile(0.5, [(0.01, 0.0), (math.inf, 0.0)]) is None
    # A rank in +Inf answers the highest finite bound (there is no upper edge to interpolate to).
    assert scrape.histogram_quantile(0.99, [(0.01, 1.0), (math.inf, 10.0)]) == 0.01


def test_percentiles_lie_within_one_bucket_of_the_true_ones():
    """M2: a known latency distribution, observed into the real histogram, read back merged."""
    import random

    rng = random.Random(7)
    latencies = sorted(rng.lognormvariate(math.log(0.03), 0.8) for _ in range(5000))
    route = "/test-percentiles/<n>"
    before = scrape.Snapshot().histogram("portal_http_request_duration_seconds", route=route)
    for value in latencies:
        metrics.request_finished(route, "GET", 200, value)
    merged = scrape.Snapshot().histogram("portal_http_request_duration_seconds", route=route).minus(before)
    assert merged.count == 5000
    bounds = (0.0, *metrics.LATENCY_BUCKETS)
    for q in (0.5, 0.95, 0.99):
        true = latencies[int(q * len(latencies)) - 1]
        estimate = merged.quantile(q)
        upper = next(b for b in bounds if b >= true)
        lower = max(b for b in bounds if b < true) if true > 0 else 0.0
        assert lower - (upper - lower) <= estimate <= upper + (upper - lower), (q, true, estimate)


def test_requests_are_counted_by_route_template_and_status_class(app, client):
    snap = scrape.Snapshot()
    count = "portal_http_requests_total"
    ok_before = snap.total(count, route="/health/live", status="2xx")
    missing_before = snap.total(count, route=metrics.UNMATCHED_ROUTE, status="4xx")
    for _ in range(3):
        assert client.get("/health/live").status_code == 200
    client.get("/a/b/nao-existe-1")  # no rule matches (a one-segment path would match /<slug>)
    client.get("/a/b/nao-existe-2")
    after = scrape.Snapshot()
    assert after.total(count, route="/health/live", status="2xx") - ok_before == 3
    # Raw paths never become labels: two unknown paths are one series.
    assert after.total(count, route=metrics.UNMATCHED_ROUTE, status="4xx") - missing_before == 2
    assert not any("nao-existe" in labels.get("route", "") for labels, _ in after.values[count])
    assert after.gauge_max("portal_http_requests_in_flight", "route").get("/health/live") == 0


def test_no_request_stays_in_flight_whatever_its_answer(make_app):
    app = make_app()

    @app.get("/test-in-flight/boom")
    def boom():
        raise RuntimeError("bookkeeping check")

    client = app.test_client()
    answers = [client.get("/a/b/nao-existe").status_code,  # no rule
               client.get("/admin").status_code,  # Werkzeug's slash redirect, answered by the pipeline's hook
               client.get("/", headers={"Host": "a..b"}).status_code,  # refused before routing
               client.get("/test-in-flight/boom").status_code,
               client.post("/health/live").status_code]  # a rule, not for this method
    assert answers == [404, 308, 400, 500, 405]
    in_flight = scrape.Snapshot().gauge_max("portal_http_requests_in_flight", "route")
    assert in_flight and all(count == 0 for count in in_flight.values()), in_flight


def test_cache_events_are_counted_per_namespace(app):
    from services import cache

    snap = scrape.Snapshot()
    with app.app_context():
        store = cache.current()
        store.get("metricstest", "k")  # miss
        store.set("metricstest", "k", 1, ttl=60)
        store.get("metricstest", "k")  # hit
    events = scrape.Snapshot().by("portal_cache_events_total", "outcome", namespace="metricstest")
    earlier = snap.by("portal_cache_events_total", "outcome", namespace="metricstest")
    assert events.get("miss", 0) - earlier.get("miss", 0) == 1
    assert events.get("hit", 0) - earlier.get("hit", 0) == 1


def test_breaker_transitions_set_the_state_gauge():
    from services.resilience.breaker import BreakerConfig, CircuitBreaker

    breaker = CircuitBreaker("metrics-test-dep", BreakerConfig(minimum_calls=2, failure_rate=0.5))
    for _ in range(2):
        breaker.acquire().failure()
    states = scrape.Snapshot().gauge_max("portal_breaker_state", "dependency")
    assert states["metrics-test-dep"] == metrics.BREAKER_STATE_VALUES["open"]
    with pytest.raises(Exception, match="circuit open"):
        breaker.acquire()
    assert scrape.Snapshot().total("portal_dependency_rejected_total", dependency="metrics-test-dep") >= 1
    breaker.reset()
    assert scrape.Snapshot().gauge_max("portal_breaker_state", "dependency")["metrics-test-dep"] == 0


def test_failure_reasons_become_bounded_labels():
    assert metrics.failure_class("HTTP 503") == "http_5xx"
    assert metrics.failure_class("HTTP 429") == "http_429"
    assert metrics.failure_class("timeout (ReadTimeout)") == "timeout"
    assert metrics.failure_class("connection error (ConnectError)") == "connection"
    assert metrics.failure_class("malformed body: no hits") == "malformed"
    assert metrics.failure_class("anything else at all") == "other"


WORKER = """
import sys
from services.monitoring import metrics
for _ in range(int(sys.argv[1])):
    metrics.request_finished("/w", "GET", 200, 0.004)
    metrics.request_started("/w")
metrics.breaker_state("datajud", "open")
"""


def _worker_files(directory, requests=3):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run([sys.executable, "-c", WORKER, str(requests)], cwd=ROOT, env=env, check=True)
    return glob.glob(os.path.join(directory, "*.db"))


def _merged(directory):
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return scrape.Snapshot(list(registry.collect()))


def test_compaction_keeps_totals_and_drops_live_gauges(tmp_path):
    files = _worker_files(tmp_path)
    pid = int(os.path.basename(next(f for f in files if f.startswith(str(tmp_path / "counter_"))))[8:-3])
    before = _merged(tmp_path)
    assert before.total("portal_http_requests_total", route="/w") == 3
    assert before.total("portal_http_requests_in_flight", route="/w") == 3
    scrape.compact_dead_worker(pid, str(tmp_path))
    after = _merged(tmp_path)
    assert after.total("portal_http_requests_total", route="/w") == 3
    assert after.histogram("portal_http_request_duration_seconds", route="/w").count == 3
    assert after.total("portal_http_requests_in_flight", route="/w") == 0  # a dead worker serves nothing
    assert "datajud" not in after.gauge_max("portal_breaker_state", "dependency")
    assert not glob.glob(str(tmp_path / f"*_{pid}.db"))


def test_dead_workers_are_folded_so_a_scrape_reads_a_handful_of_files(tmp_path):
    """M4: dead workers' files are folded as they die; a scrape still reads a handful of files and loses no
    count. (How long that scrape takes after 500 restarts is bench/scrape_bench.py's figure.)"""
    files = _worker_files(tmp_path, requests=2)
    restarts = 100
    for fake_pid in range(100_000, 100_000 + restarts):
        for path in files:
            name = os.path.basename(path)
            kind = name.rsplit("_", 1)[0]
            shutil.copy(path, tmp_path / f"{kind}_{fake_pid}.db")
        scrape.compact_dead_worker(fake_pid, str(tmp_path))
    assert len(glob.glob(str(tmp_path / "*.db"))) <= len(files) + 4
    snap = _merged(tmp_path)
    assert snap.total("portal_http_requests_total", route="/w") == 2 * (restarts + 1)
