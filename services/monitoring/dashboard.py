"""The JSON the admin dashboard polls: the whole server's figures, whichever worker answers.

Counts and percentiles come from the merged metrics (services.monitoring.metrics: every worker's files under
gunicorn), rates from the last sample of the single collector (services.monitoring.collector), dependency
details from the resilience registry with the worst breaker state across workers, and alerts from the
database. Nothing here is per-worker except `worker_pid`, reported so a test can tell who answered.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from services import cache, resilience
from services.monitoring import alerts, collector, instances, metrics, readiness, scrape, system_info
from services.monitoring.health_score import Component

log = logging.getLogger("portal.monitoring")
OPTIONAL_UPSTREAMS = {"escavador": "ESCAVADOR_API_KEY", "openai": "OPENAI_API_KEY"}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def latency(histogram: scrape.Histo) -> dict:
    return {"p50_ms": _ms(histogram.quantile(0.5)), "p95_ms": _ms(histogram.quantile(0.95)),
            "p99_ms": _ms(histogram.quantile(0.99)), "count": int(histogram.count),
            "mean_ms": _ms(histogram.total / histogram.count) if histogram.count else None}


def configured_dependencies() -> list[str]:
    config = current_app.config
    return [name for name in config["DEPENDENCIES"]
            if name not in OPTIONAL_UPSTREAMS or config.get(OPTIONAL_UPSTREAMS[name])]


def dependencies(snap: scrape.Snapshot) -> list[dict]:
    """Each configured dependency: status, breaker (this worker's and the worst worker's), last error, counters."""
    registry = resilience.current()
    for name in configured_dependencies():
        registry.dependency(name)  # built on first use: make the dashboard list every configured one
    worst = snap.gauge_max("portal_breaker_state", "dependency")
    calls = snap.by("portal_dependency_calls_total", "dependency")
    failures = snap.by("portal_dependency_failures_total", "dependency")
    rejected = snap.by("portal_dependency_rejected_total", "dependency")
    bulkhead_rejected = snap.by("portal_dependency_bulkhead_rejected_total", "dependency")
    retries = snap.by("portal_dependency_retries_total", "dependency")
    result = []
    wanted = set(configured_dependencies())
    for status in registry.statuses():
        if status.name not in wanted:
            continue
        server_state = metrics.BREAKER_STATE_NAMES.get(int(worst.get(status.name, 0)), status.breaker)
        overall = status.status
        if server_state in ("open", "forced_open"):
            overall = "down"
        elif server_state == "half_open" and overall == "healthy":
            overall = "degraded"
        result.append({
            "name": status.name, "status": overall, "breaker": server_state, "breaker_this_worker": status.breaker,
            "last_error": status.last_error, "last_error_at": status.last_error_at,
            "last_success_at": status.last_success_at, "retry_after_s": status.retry_after_s,
            "calls": int(calls.get(status.name, 0)), "failures": int(failures.get(status.name, 0)),
            "rejected": int(rejected.get(status.name, 0)), "retries": int(retries.get(status.name, 0)),
            "bulkhead_rejected": int(bulkhead_rejected.get(status.name, 0)),
            "max_concurrent": registry.dependency(status.name).bulkhead.max_concurrent,
            "latency": latency(snap.histogram("portal_dependency_duration_seconds", dependency=status.name)),
        })
    return result


def components(dependencies: list[dict]) -> list[Component]:
    """The parts the health score judges: the database (essential), Redis when configured, the dependencies."""
    ready = readiness.readiness() if "readiness" in current_app.extensions else None
    database = "healthy" if ready is None or ready.status in ("pass", "warn") else "down"
    parts = [Component("database", database, essential=True)]
    if current_app.config.get("REDIS_URL"):
        parts.append(Component("redis", "healthy" if cache.current().ping() else "down"))
    parts.extend(Component(dep["name"], dep["status"]) for dep in dependencies)
    return parts


def assistant(snap: scrape.Snapshot) -> dict:
    return {"answers_by_path": {k: int(v) for k, v in snap.by("portal_assistant_answers_total", "path").items()},
            "latency_by_path": {k: latency(h) for k, h in
                                snap.histograms_by("portal_assistant_answer_duration_seconds", "path").items()},
            "llm_failures": {k: int(v) for k, v in snap.by("portal_assistant_llm_failures_total", "reason").items()},
            "cache": {k: int(v) for k, v in snap.by("portal_assistant_cache_total", "outcome").items()}}


def sync(snap: scrape.Snapshot) -> dict:
    last_runs = snap.gauge_max("portal_sync_last_run_timestamp_seconds", "status")
    return {"summary": collector.sync_summary(),
            "runs_by_status": {k: int(v) for k, v in snap.by("portal_sync_runs_total", "status").items()},
            "last_run_at": max(last_runs.values()) if last_runs else None}


def email_follows() -> dict | None:
    """Citizens' e-mail follows as figures only (services.email_follows.counts): never an address on screen."""
    from services.email_follows import counts

    try:
        return counts()
    except SQLAlchemyError as exc:  # the dashboard must render while the database is down
        db.session.rollback()
        log.warning("e-mail follow figures unavailable", extra={"reason": type(exc).__name__})
        return None


def cache_figures(snap: scrape.Snapshot) -> dict:
    outcomes = snap.by("portal_cache_events_total", "outcome")
    hits, misses = outcomes.get("hit", 0), outcomes.get("miss", 0)
    return {"backend": cache.current().backend(),
            "hit_rate_percent": round(100 * hits / (hits + misses), 1) if hits + misses else None,
            "lookups": {k: int(v) for k, v in outcomes.items()},
            "namespaces": {ns: {k: int(v) for k, v in snap.by("portal_cache_events_total", "outcome",
                                                               namespace=ns).items()}
                           for ns in snap.by("portal_cache_events_total", "namespace")}}


def routes(snap: scrape.Snapshot) -> list[dict]:
    """Per route template: answers by status class, error share and latency percentiles, busiest first."""
    result = []
    for route, histogram in snap.histograms_by(collector.LATENCY, "route").items():
        by_status = {k: int(v) for k, v in snap.by(collector.REQUESTS, "status", route=route).items()}
        total = sum(by_status.values())
        result.append({"route": route, "requests": total, "by_status": by_status,
                       "error_rate_percent": round(100 * by_status.get("5xx", 0) / total, 2) if total else None,
                       "in_flight": int(snap.total("portal_http_requests_in_flight", route=route)),
                       "latency": latency(histogram)})
    return sorted(result, key=lambda row: -row["requests"])


def summary() -> dict:
    """Everything the dashboard shows, in one document."""
    snap = scrape.Snapshot()
    deployment = instances.combined(snap)
    by_status = deployment["by_status"]
    latest = collector.current().history.latest() or {}
    deps = dependencies(snap)
    sample = {name: latest.get(name) for name in ("cpu", "memory", "disk")}
    if sample["disk"] is None:
        sample["disk"] = system_info.disk(current_app.instance_path)["percent"]
    levels = alerts.levels({**sample, **{k: latest.get(k) for k in
                                         ("error_rate", "p95_latency", "cache_hit_rate")}}, current_app.config)
    return {
        "generated_at": time.time(),
        "worker_pid": os.getpid(),
        # The answering worker's threads: with Redis, none runs periodic work (tests/test_jobs.py checks).
        "worker_threads": sorted(thread.name for thread in threading.enumerate()),
        "instances": deployment["instances"],
        "jobs": jobs(),
        "requests": {"total": sum(by_status.values()), "by_status": by_status,
                     "rate_per_s": latest.get("request_rate"), "error_rate_percent": latest.get("error_rate"),
                     "window_s": current_app.config["MONITORING_SAMPLE_INTERVAL_S"], "sampled_at": latest.get("time")},
        "latency": latency(snap.histogram(collector.LATENCY)),
        "latency_window_p95_ms": latest.get("p95_latency"),
        "routes": routes(snap),
        "cache": cache_figures(snap),
        "system": {"cpu_percent": sample["cpu"], "memory_percent": sample["memory"], "disk_percent": sample["disk"]},
        "dependencies": deps,
        "assistant": assistant(snap),
        "sync": sync(snap),
        "email_follows": email_follows(),
        "alerts": [alerts.to_json(alert) for alert in alerts.active()],
        "health": collector.health_score_of(components(deps), levels),
    }


def jobs() -> dict:
    """The background jobs' panel (services.jobs.status), with their alerts evaluated as it is read: with no
    worker alive, no sample job runs to raise the alert, so the admin's own view does."""
    from services.jobs import status

    panel = status.panel()
    readings = status.alert_readings(panel)
    if readings:
        alerts.evaluate(readings, current_app.config)
    return panel
