"""Prometheus metrics of the portal, correct across gunicorn workers.

Under gunicorn, gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before any worker imports this module,
so prometheus_client keeps every value in a per-process mmap file and a scrape merges the files of all
workers (multiprocess mode). Under `flask run` and in tests the variable is absent and the plain
in-process registry is used. `collect()` hides the difference: it returns the merged metric families
either way, and both /metrics and the dashboard JSON read from it, so they always agree.

Label cardinality is bounded: routes are URL rule templates (never raw paths), dependencies and cache
namespaces are the fixed names of the configuration, assistant paths and sync statuses are short enums.
"""
from __future__ import annotations

import os

from prometheus_client import REGISTRY as _DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST

# 1 ms to 10 s: the portal's pages answer in a few ms, the assistant and upstream calls take seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Outbound calls and the assistant: 5 ms to 60 s (the LLM deadline is 30 s).
SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# The numeric value of each breaker state in portal_breaker_state (the gauge keeps the worst, max).
BREAKER_STATE_VALUES = {"closed": 0, "disabled": 1, "half_open": 2, "open": 3, "forced_open": 4}
BREAKER_STATE_NAMES = {value: name for name, value in BREAKER_STATE_VALUES.items()}


def multiprocess_dir() -> str | None:
    """The directory of the per-worker files, when running in multiprocess mode."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# -- requests -----------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter("portal_http_requests_total", "HTTP requests answered, by route template and status class",
                        ["route", "method", "status"])
HTTP_LATENCY = Histogram("portal_http_request_duration_seconds", "Time to answer a request, by route template",
                         ["route"], buckets=LATENCY_BUCKETS)
HTTP_IN_FLIGHT = Gauge("portal_http_requests_in_flight", "Requests being answered now, by route template",
                       ["route"], multiprocess_mode="livesum")

# -- outbound dependencies ----------------------------------------------------------------------------
DEP_CALLS = Counter("portal_dependency_calls_total", "Outbound calls attempted (after the breaker let them)",
                    ["dependency"])
DEP_FAILURES = Counter("portal_dependency_failures_total", "Outbound calls that failed, by reason",
                       ["dependency", "reason"])
DEP_REJECTED = Counter("portal_dependency_rejected_total", "Calls refused by an open breaker (nothing sent)",
                       ["dependency"])
DEP_RETRIES = Counter("portal_dependency_retries_total", "Retries of outbound calls", ["dependency"])
DEP_LATENCY = Histogram("portal_dependency_duration_seconds", "Time of one outbound attempt", ["dependency"],
                        buckets=SLOW_BUCKETS)
# livemax: the worst state among the workers alive now. Plain "max" would keep the value a dead
# worker wrote last (its file outlives it), pinning the gauge at "open" after a recycle.
BREAKER_STATE = Gauge("portal_breaker_state",
                      "Breaker state: 0 closed, 1 disabled, 2 half-open, 3 open, 4 forced open (worst worker)",
                      ["dependency"], multiprocess_mode="livemax")
BREAKER_TRANSITIONS = Counter("portal_breaker_transitions_total", "Breaker state changes", ["dependency", "to"])

# -- cache ----------------------------------------------------------------------------------------------
CACHE_EVENTS = Counter("portal_cache_events_total", "Cache lookups by outcome (hit, miss, stale, error)",
                       ["namespace", "outcome"])

# -- assistant and sync ------------------------------------------------------------------------------
ASSISTANT_ANSWERS = Counter("portal_assistant_answers_total", "Assistant answers, by the path that produced them",
                            ["path"])
ASSISTANT_LATENCY = Histogram("portal_assistant_answer_duration_seconds", "Time to produce an assistant answer",
                              ["path"], buckets=SLOW_BUCKETS)
ASSISTANT_LLM_FAILURES = Counter("portal_assistant_llm_failures_total", "LLM calls of the assistant that failed",
                                 ["reason"])
ASSISTANT_CACHE = Counter("portal_assistant_cache_total", "Assistant answer cache lookups", ["outcome"])
SYNC_RUNS = Counter("portal_sync_runs_total", "Runs of the followed-process sync, by final status", ["status"])
SYNC_DURATION = Histogram("portal_sync_run_duration_seconds", "Duration of one sync run", ["status"],
                          buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600))
SYNC_LAST_RUN = Gauge("portal_sync_last_run_timestamp_seconds", "When the last sync run finished (Unix time)",
                      ["status"], multiprocess_mode="max")


def _short(value: str, limit: int = 40) -> str:
    """Label values come from code, but a bound keeps a mistake from exploding the series count."""
    return (value or "unknown")[:limit]


def record_assistant_answer(path: str, seconds: float) -> None:
    """One assistant answer produced by `path` (e.g. "llm", "retrieval", "cache", "fallback")."""
    path = _short(path)
    ASSISTANT_ANSWERS.labels(path).inc()
    ASSISTANT_LATENCY.labels(path).observe(max(0.0, seconds))


def record_assistant_llm_failure(reason: str) -> None:
    ASSISTANT_LLM_FAILURES.labels(_short(reason)).inc()


def record_assistant_cache(hit: bool) -> None:
    ASSISTANT_CACHE.labels("hit" if hit else "miss").inc()


def record_sync_run(status: str, seconds: float) -> None:
    """One finished sync run; `status` is the run's final status (e.g. "ok", "partial", "failed")."""
    import time

    status = _short(status)
    SYNC_RUNS.labels(status).inc()
    SYNC_DURATION.labels(status).observe(max(0.0, seconds))
    SYNC_LAST_RUN.labels(status).set(time.time())


def registry():
    """The registry a scrape reads: a merging one over the worker files, or the process's own."""
    directory = multiprocess_dir()
    if directory:
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=directory)
        return merged
    return _DEFAULT_REGISTRY


def exposition() -> bytes:
    """The Prometheus text format of all metrics (all workers under gunicorn)."""
    return generate_latest(registry())
