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

import atexit
import bisect
import os
import threading
import time

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST

# 1 ms to 10 s: the portal's pages answer in a few ms, the assistant and dependency calls take seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Outbound calls and the assistant: 5 ms to 60 s (the LLM deadline is 30 s).
SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# The numeric value of each breaker state in portal_breaker_state (the gauge keeps the worst, max).
BREAKER_STATE_VALUES = {"closed": 0, "disabled": 1, "half_open": 2, "open": 3, "forced_open": 4}
BREAKER_STATE_NAMES = {value: name for name, value in BREAKER_STATE_VALUES.items()}


def multiprocess_dir() -> str | None:
    """The directory of the per-worker files in multiprocess mode, else None.

    prometheus_client chose the mode when it was imported, from PROMETHEUS_MULTIPROC_DIR (set by
    gunicorn.conf.py); its collector reads that variable itself, so this module never reads the environment.
    """
    from prometheus_client import values

    if values.ValueClass is values.MutexValue:
        return None
    from prometheus_client.multiprocess import MultiProcessCollector

    return MultiProcessCollector(None)._path


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
DEP_BULKHEAD_REJECTED = Counter("portal_dependency_bulkhead_rejected_total",
                                "Calls refused by a full bulkhead (nothing sent)", ["dependency"])
DEP_LATENCY = Histogram("portal_dependency_duration_seconds", "Time of one outbound attempt", ["dependency"],
                        buckets=SLOW_BUCKETS)
# livemax: the worst state among the workers alive now. Plain "max" would keep the value a dead
# worker wrote last (its file outlives it), pinning the gauge at "open" after a recycle.
BREAKER_STATE = Gauge("portal_breaker_state",
                      "Breaker state: 0 closed, 1 disabled, 2 half-open, 3 open, 4 forced open (worst worker)",
                      ["dependency"], multiprocess_mode="livemax")
DEP_UNAUTHORIZED = Counter("portal_dependency_unauthorized_total",
                           "Dependency answers HTTP 401: the portal's credentials were refused", ["dependency"])
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
    status = _short(status)
    SYNC_RUNS.labels(status).inc()
    SYNC_DURATION.labels(status).observe(max(0.0, seconds))
    SYNC_LAST_RUN.labels(status).set(time.time())


UNMATCHED_ROUTE = "<unmatched>"  # 404s and other requests no URL rule matched: one series, not one per path
_STATUS_CLASSES = {code: f"{code // 100}xx" for code in range(100, 600)}
_LATENCY_SLOTS = len(LATENCY_BUCKETS) + 1  # and +Inf


class _RequestTally:
    """The request metrics, gathered in process memory and written to prometheus_client in batches.

    Every request changes five values (in flight up and down, the count, a latency bucket and the sum); under
    gunicorn each is a locked write into the worker's mmap file, ~25 µs a request measured on `/health/live`. Here
    a request adds to plain dicts under one lock, and `publish` writes the totals: every PUBLISH_INTERVAL_S from a
    thread of the process, before this process reads the metrics (`scrape.collect`), and at exit. Another worker's
    scrape sees this one's figures at most PUBLISH_INTERVAL_S late.
    """

    PUBLISH_INTERVAL_S = 0.5

    def __init__(self):
        self.lock = threading.Lock()
        self.publishing = threading.Lock()
        self.answered: dict[tuple, int] = {}
        self.latencies: dict[str | None, list] = {}
        self.in_flight: dict[str | None, int] = {}
        self.in_flight_changed: set = set()
        self.pid: int | None = None
        # A flag rather than comparing os.getpid() on each request (a system call); a forked child clears it.
        self.publisher_runs = False
        os.register_at_fork(after_in_child=self._forked)
        self.children: dict = {}

    def started(self, route: str | None) -> None:
        if not self.publisher_runs:
            self._start_publisher()
        with self.lock:
            self.in_flight[route] = self.in_flight.get(route, 0) + 1
            self.in_flight_changed.add(route)

    def finished(self, route: str | None, method: str, status: int, seconds: float, ended: bool) -> None:
        slot = bisect.bisect_left(LATENCY_BUCKETS, seconds)  # the first bound ≥ seconds, as Histogram.observe
        key = (route, method, status)
        with self.lock:
            if ended:
                self.in_flight[route] = self.in_flight.get(route, 0) - 1
                self.in_flight_changed.add(route)
            self.answered[key] = self.answered.get(key, 0) + 1
            row = self.latencies.get(route)
            if row is None:
                row = self.latencies[route] = [0] * _LATENCY_SLOTS + [0.0]
            row[slot] += 1
            row[-1] += seconds

    def publish(self) -> None:
        with self.publishing:
            with self.lock:
                answered, self.answered = self.answered, {}
                latencies, self.latencies = self.latencies, {}
                in_flight = {route: self.in_flight[route] for route in self.in_flight_changed}
                self.in_flight_changed = set()
            for (route, method, status), count in answered.items():
                self._child(HTTP_REQUESTS, route or UNMATCHED_ROUTE, method[:10],
                            _STATUS_CLASSES.get(status, "other")).inc(count)
            for route, row in latencies.items():
                histogram = self._child(HTTP_LATENCY, route or UNMATCHED_ROUTE)
                # Histogram.observe adds one to a bucket and the value to the sum; a batch adds its totals to the
                # same values (prometheus_client's own fields, the version pinned in requirements.txt).
                for slot, count in enumerate(row[:-1]):
                    if count:
                        histogram._buckets[slot].inc(count)
                histogram._sum.inc(row[-1])
            for route, count in in_flight.items():
                self._child(HTTP_IN_FLIGHT, route or UNMATCHED_ROUTE).set(count)

    def _forked(self) -> None:
        self.publisher_runs = False

    def _child(self, metric, *labels):
        child = self.children.get((metric, labels))
        if child is None:
            child = self.children[(metric, labels)] = metric.labels(*labels)
        return child

    def _start_publisher(self) -> None:
        with self.publishing:
            self.publisher_runs = True
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()  # a forked worker inherits no thread: one per process

            def run():
                while True:
                    time.sleep(self.PUBLISH_INTERVAL_S)
                    self.publish()

            threading.Thread(target=run, name="metrics-publisher", daemon=True).start()


PUBLISH_INTERVAL_S = _RequestTally.PUBLISH_INTERVAL_S
_tally = _RequestTally()
atexit.register(_tally.publish)
publish_request_metrics = _tally.publish


def request_started(route: str | None) -> None:
    """A request was routed (route template or None); counted in flight until `request_finished(ended=True)`."""
    _tally.started(route)


def request_finished(route: str | None, method: str, status: int, seconds: float, ended: bool = False) -> None:
    """Count one answered request and its latency; `ended`: it was counted in flight by `request_started`."""
    _tally.finished(route, method, status, seconds, ended)


# -- dependencies (called by services.resilience) -----------------------------------------------------
def dependency_attempt(dependency: str, seconds: float, failure: str | None) -> None:
    """One attempt sent to a dependency; `failure` is a short reason class, None when it succeeded."""
    DEP_CALLS.labels(dependency).inc()
    DEP_LATENCY.labels(dependency).observe(seconds)
    if failure is not None:
        DEP_FAILURES.labels(dependency, failure).inc()


def dependency_unauthorized(dependency: str) -> None:
    DEP_UNAUTHORIZED.labels(dependency).inc()


def dependency_rejected(dependency: str) -> None:
    DEP_REJECTED.labels(dependency).inc()


def bulkhead_rejected(dependency: str) -> None:
    DEP_BULKHEAD_REJECTED.labels(dependency).inc()


def dependency_retry(dependency: str) -> None:
    DEP_RETRIES.labels(dependency).inc()


def breaker_state(dependency: str, state: str, changed: bool = True) -> None:
    BREAKER_STATE.labels(dependency).set(BREAKER_STATE_VALUES.get(state, 0))
    if changed:
        BREAKER_TRANSITIONS.labels(dependency, state).inc()


def failure_class(reason: str) -> str:
    """A bounded label for a failure reason ("HTTP 503" → "http_5xx", "timeout (ReadTimeout)" → "timeout")."""
    if reason.startswith("HTTP "):
        code = reason[5:8]
        return "http_429" if code == "429" else "http_408" if code == "408" else f"http_{code[:1]}xx"
    for prefix, label in (("timeout", "timeout"), ("connection", "connection"), ("malformed", "malformed"),
                          ("deadline", "deadline")):
        if reason.startswith(prefix):
            return label
    return "other"


# -- cache (called by services.cache) ----------------------------------------------------------------------
CACHE_OUTCOMES = {"fresh": "hit", "stale": "stale", "miss": "miss", "error": "error"}


def cache_event(namespace: str, outcome: str) -> None:
    """One cache lookup outcome: "fresh"/"hit", "stale", "miss", or a loader "error"."""
    CACHE_EVENTS.labels(namespace, CACHE_OUTCOMES.get(outcome, outcome)).inc()


class _RequestObserver:
    """What utils.request_middleware calls for every request (it may not import services itself)."""

    started = staticmethod(request_started)
    finished = staticmethod(request_finished)


REQUEST_OBSERVER = _RequestObserver()
