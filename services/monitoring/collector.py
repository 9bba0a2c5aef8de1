"""The dashboard's data: headline history, the single collector that samples it, and the live summary.

Every MONITORING_SAMPLE_INTERVAL_S (30 s) the periodic job "monitoring-sample" (services.jobs: enqueued once
per interval for the whole deployment, run by an RQ worker, or by a thread of a serving process without Redis)
takes the merged metrics (services.monitoring.metrics), computes the window since the previous sample, appends
the headline figures to their histories (Redis lists capped at MONITORING_HISTORY_SIZE, or a file without Redis)
and runs the alert rules, the background jobs' own included. The baseline of the window is kept beside the
history, so whichever process takes the next sample continues where the last one stopped.

Headlines: request_rate (req/s), error_rate (% of answers that were 5xx), p95_latency (ms, from the
window's merged histogram buckets), cache_hit_rate (% hits / (hits + misses)), cpu (%), memory (%).
A window with fewer than MIN_VOLUME requests (or cache lookups) gives no error rate, latency or hit
rate for that sample: a single slow request must not raise an alert.
"""
from __future__ import annotations

import logging
import os
import threading

from flask import current_app

from extensions import db
from services import cache, redis_connection
from services.monitoring import alerts, health_score, metrics, scrape, system_info
from services.monitoring.history import HEADLINES, FileHistory, MemoryHistory, RedisHistory, ResilientHistory

log = logging.getLogger("portal.monitoring")

MIN_VOLUME = 20
REQUESTS = "portal_http_requests_total"
LATENCY = "portal_http_request_duration_seconds"
CACHE = "portal_cache_events_total"


# -- the window between two samples --------------------------------------------------------------------------
def baseline_of(snap: scrape.Snapshot) -> dict:
    """The cumulative figures a later sample subtracts to get its window."""
    return {
        "time": snap.taken_at,
        "requests": snap.total(REQUESTS),
        "errors": snap.total(REQUESTS, status="5xx"),
        "latency": snap.histogram(LATENCY).to_json(),
        "cache": snap.by(CACHE, "outcome"),
        "unauthorized": snap.by("portal_dependency_unauthorized_total", "dependency"),
        "sync_failed": snap.total("portal_sync_runs_total", status="failed"),
    }


def _delta(now: float, before: float) -> float:
    return now - before if now >= before else now  # a smaller total means a restart: count from zero


def window(current: dict, previous: dict | None) -> dict:
    """Headline figures of the interval between two baselines (all None on the first sample)."""
    if previous is None or current["time"] <= previous["time"]:
        return {"request_rate": None, "error_rate": None, "p95_latency": None, "cache_hit_rate": None,
                "requests": 0, "datajud_401": None, "sync_failed": None}
    seconds = current["time"] - previous["time"]
    requests = _delta(current["requests"], previous["requests"])
    errors = _delta(current["errors"], previous["errors"])
    latency = scrape.Histo.from_json(current["latency"]).minus(scrape.Histo.from_json(previous["latency"]))
    hits = _delta(current["cache"].get("hit", 0), previous["cache"].get("hit", 0))
    misses = _delta(current["cache"].get("miss", 0), previous["cache"].get("miss", 0))
    p95 = latency.quantile(0.95) if latency.count >= MIN_VOLUME else None
    return {
        "request_rate": round(requests / seconds, 3),
        "error_rate": round(100 * errors / requests, 2) if requests >= MIN_VOLUME else None,
        "p95_latency": round(p95 * 1000, 1) if p95 is not None else None,
        "cache_hit_rate": round(100 * hits / (hits + misses), 1) if hits + misses >= MIN_VOLUME else None,
        "requests": requests,
        "datajud_401": _delta(current["unauthorized"].get("datajud", 0), previous["unauthorized"].get("datajud", 0)),
        "sync_failed": _delta(current["sync_failed"], previous["sync_failed"]),
    }


# -- the collector ------------------------------------------------------------------------------------------
class Collector:
    """Takes the samples; when and where is the schedule's business (services.jobs)."""

    def __init__(self, app, history, redis_client=None, prefix: str = "portal:v1:", interval_s: float = 30):
        self.app = app
        self.history = history
        self.redis = redis_client
        self.interval_s = interval_s
        self._local = threading.Lock()

    def sample(self) -> dict | None:
        """Take one sample and evaluate the alerts (None if this process is taking one already)."""
        if not self._local.acquire(blocking=False):
            return None
        try:
            with self.app.app_context():
                return self._sample()
        finally:
            self._local.release()

    def run_once(self, force: bool = False) -> dict | None:
        return self.sample()

    def _sample(self) -> dict:
        snap = scrape.Snapshot()
        current = baseline_of(snap)
        previous = self.history.baseline()
        figures = window(current, previous)
        system = system_info.snapshot(current_app.instance_path)
        sample = {"time": round(current["time"], 3), **figures, "cpu": system["cpu"]["percent"],
                  "memory": system["memory"]["percent"], "disk": system["disk"]["percent"]}
        self.history.set_baseline(current)
        self.history.append(sample)
        alerts.evaluate(alert_readings(sample, snap), current_app.config)
        return sample


def alert_readings(sample: dict, snap: scrape.Snapshot) -> dict[str, float | None]:
    """What the alert rules judge: the sample's figures, breakers (worst worker) and sync failures."""
    readings: dict[str, float | None] = {name: sample.get(name) for name in
                                         ("cpu", "memory", "disk", "error_rate", "p95_latency", "cache_hit_rate")}
    for name, value in snap.gauge_max("portal_breaker_state", "dependency").items():
        state = metrics.BREAKER_STATE_NAMES.get(int(value), "closed")
        readings[f"breaker_open:{name}"] = 1.0 if state == "open" else 0.0
        readings[f"breaker_forced_open:{name}"] = 1.0 if state == "forced_open" else 0.0
    if current_app.config.get("REDIS_URL"):
        readings["component_down:redis"] = 0.0 if cache.current().ping() else 1.0
    readings["datajud_401"] = None if sample.get("datajud_401") is None else float(sample["datajud_401"] > 0)
    readings["sync_failures"] = consecutive_sync_failures()
    readings.update(job_readings())
    return readings


def job_readings() -> dict[str, float | None]:
    """The background jobs' alert readings (services.jobs.status): a stalled queue, no worker, failed jobs."""
    from services.jobs import status

    try:
        return status.alert_readings(status.panel())
    except Exception as exc:  # the sample goes on without them
        log.warning("job readings unavailable", extra={"reason": type(exc).__name__})
        return {}


def consecutive_sync_failures(limit: int = 20) -> float | None:
    """How many of the latest finished sync runs failed in a row (0 after a good run; None on no data)."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from extensions import db
    from models import SyncRun

    try:
        statuses = db.session.scalars(select(SyncRun.status).where(SyncRun.status != "running")
                                      .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)).all()
    except SQLAlchemyError:
        db.session.rollback()
        return None
    if not statuses:
        return None
    streak = 0
    for status in statuses:
        if status != "failed":
            break
        streak += 1
    return float(streak)


def sync_summary() -> dict | None:
    """The sync's last run, today's budget and the next run (services.processes.sync.last_run_summary)."""
    from services.processes import sync

    try:
        return sync.last_run_summary()
    except Exception as exc:  # the dashboard must render whatever the sync's records say
        db.session.rollback()  # a failed query must not poison the rest of this request
        log.warning("sync summary unavailable", extra={"reason": type(exc).__name__})
        return None


# -- wiring -----------------------------------------------------------------------------------------------------
def state_path(app, name: str) -> str:
    """Where this server keeps a monitoring file: beside a SQLite database (one server per database file),
    otherwise in the instance folder."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and not uri.endswith(":memory:"):
        return f"{uri.removeprefix('sqlite:///')}.{name}"
    return os.path.join(app.instance_path, name)


def init_app(app) -> None:
    config = app.config
    redis_client = redis_connection.client(app)
    if redis_client is not None:
        history = ResilientHistory(
            RedisHistory(redis_client, config["CACHE_KEY_PREFIX"], config["MONITORING_HISTORY_SIZE"]),
            MemoryHistory(config["MONITORING_HISTORY_SIZE"]))
    else:
        history = FileHistory(state_path(app, "monitoring-history.json"), config["MONITORING_HISTORY_SIZE"])
    collector = Collector(app, history, redis_client, config["CACHE_KEY_PREFIX"],
                          config["MONITORING_SAMPLE_INTERVAL_S"])
    app.extensions["monitoring"] = collector


def current() -> Collector:
    return current_app.extensions["monitoring"]


def history(name: str, limit: int | None = None) -> list[list[float]]:
    if name not in HEADLINES:
        raise KeyError(name)
    return current().history.series(name, limit)


def health_score_of(components: list[health_score.Component], levels: dict[str, str]) -> dict:
    value = health_score.score(components, levels.values())
    return {"score": value, "label": health_score.label(value), "levels": levels,
            "components": [{"name": c.name, "status": c.status, "essential": c.essential} for c in components]}
