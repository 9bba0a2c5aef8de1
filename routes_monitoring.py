"""The monitoring API (/api/v1/monitoring/…) the admin dashboard polls, and the Prometheus scrape (/metrics).

Everything is admin-only except `health` (status only, for anyone). State-changing calls are POSTs that
need a fresh login and the CSRF token (header X-CSRFToken), and each is written to the audit log.
"""
from __future__ import annotations

import ipaddress

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask_login import current_user

import errors
from services import admin_actions, audit, cache
from services.jobs import metrics as job_metrics
from services.monitoring import (
    alerts,
    collector,
    dashboard,
    diagnostics,
    instances,
    metrics,
    readiness,
    scrape,
    system_info,
)
from utils import request_middleware
from view_helpers import fresh, guard, public

MAX_LISTED = 1000  # alerts or samples in one answer
bp = Blueprint("monitoring", __name__, url_prefix="/api/v1/monitoring")
guard(bp, "admin")
scrape_bp = Blueprint("metrics", __name__)
HEALTH_JSON = "application/health+json"


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _health_response(document: dict, http_status: int) -> Response:
    response = jsonify(document)
    response.status_code = http_status
    response.mimetype = HEALTH_JSON
    return response


@bp.get("/health")
@public
def health_basic():
    """Public: pass, warn (a dependency is down) or fail (the database), and nothing more."""
    result = readiness.readiness()
    return _health_response({"status": result.status}, 200 if result.ready else 503)


@bp.get("/health/detailed")
def health_detailed():
    """Each component's status (application/health+json `checks`) and the health score."""
    snap = scrape.Snapshot()
    dependencies = dashboard.dependencies(snap)
    components = dashboard.components(dependencies)
    ready = readiness.readiness()
    now = ready.checked_at
    checks = {"database:responseTime": [{"componentType": "datastore", "status": ready.status,
                                         "output": ready.reason or "", "time": now}]}
    for part in components:
        if part.name == "database":
            continue
        status = {"healthy": "pass", "degraded": "warn", "down": "fail"}[part.status]
        entry = {"componentId": part.name, "componentType": "datastore" if part.name == "redis" else "component",
                 "status": status}
        detail = next((dep for dep in dependencies if dep["name"] == part.name), None)
        if detail:
            entry.update(observedValue=detail["breaker"], observedUnit="breaker state",
                         output=detail["last_error"] or "", time=detail["last_error_at"])
        checks[f"{part.name}:status"] = [entry]
    latest = collector.current().history.latest() or {}
    levels = alerts.levels({k: latest.get(k) for k in ("cpu", "memory", "disk", "error_rate", "p95_latency",
                                                       "cache_hit_rate")}, current_app.config)
    return _health_response({"status": ready.status, "checks": checks,
                             "health": collector.health_score_of(components, levels)}, 200 if ready.ready else 503)


@bp.get("/metrics")
def metrics_summary():
    """The dashboard's document: requests, latency, cache, system, dependencies, assistant, sync, alerts, score."""
    return jsonify(dashboard.summary())


@bp.get("/metrics/<name>")
def metric_history(name: str):
    """The last samples of one headline figure, oldest first: [[unix time, value], …]."""
    limit = request.args.get("limit", type=int)
    if name not in collector.HEADLINES:
        return errors.api_error(404, "unknown_metric", "Métrica desconhecida.", available=list(collector.HEADLINES))
    points = collector.history(name, min(limit, MAX_LISTED) if limit and limit > 0 else None)
    return jsonify(name=name, interval_s=current_app.config["MONITORING_SAMPLE_INTERVAL_S"], points=points)


@bp.get("/performance")
def performance():
    """Per route template: requests by status class, error share, in flight, latency percentiles."""
    return jsonify(routes=dashboard.routes(scrape.Snapshot()))


@bp.get("/jobs")
def jobs_panel():
    """Background jobs: mode, queues (length, oldest job's age), workers, failed jobs with their error, and the
    last run of each periodic job; their alerts are evaluated as it is read."""
    return jsonify(dashboard.jobs())


@bp.get("/alerts")
def alert_list():
    """Active alerts; with ?all=1 the most recent ones, resolved included."""
    limit = min(max(request.args.get("limit", 50, type=int), 1), MAX_LISTED)  # a huge number overflows the database
    chosen = alerts.recent(limit) if request.args.get("all") else alerts.active()
    return jsonify(alerts=[alerts.to_json(alert) for alert in chosen])


def _act(action, *args):
    """Run one of the admin actions shared with the dashboard's forms (validated and audited there)."""
    try:
        outcome = action(*args)
    except admin_actions.ActionRefused as exc:
        return errors.api_error(exc.status, exc.code, exc.message)
    return jsonify(message=outcome.message, **outcome.details)


@bp.post("/alerts/<int:alert_id>/resolve")
@fresh
def alert_resolve(alert_id: int):
    return _act(admin_actions.resolve_alert, alert_id, current_user.username)


@bp.get("/cache/status")
def cache_status():
    """The cache backend and, per namespace, the server-wide counters of the cache itself."""
    store = cache.current()
    return jsonify(backend=store.backend(), namespaces=store.stats(),
                   metrics=dashboard.cache_figures(scrape.Snapshot()))


@bp.post("/cache/clear")
@fresh
def cache_clear():
    """Body (JSON or form): `namespace`, and optionally `pattern` (a glob over the keys)."""
    data = request.form if not request.is_json else request.get_json(silent=True)
    if not isinstance(data, dict) and not hasattr(data, "getlist"):
        return errors.api_error(400, "invalid_body", 'Envie um objeto JSON: {"namespace": "…", "pattern": "…"}.')
    namespace, pattern = data.get("namespace") or "", data.get("pattern") or ""
    if not isinstance(namespace, str) or not isinstance(pattern, str):
        return errors.api_error(400, "invalid_body", "namespace e pattern devem ser texto.")
    return _act(admin_actions.clear_cache, namespace, pattern)


@bp.post("/breakers/<name>/<action>")
@fresh
def breaker_action(name: str, action: str):
    """reset | force_open | disable one dependency's breaker, in every worker (through Redis)."""
    return _act(admin_actions.breaker, name, action)


@bp.get("/diagnostics")
def diagnostics_export():
    """Run the checks; the JSON export (no secrets). ?download=1 makes it a file."""
    document = diagnostics.export()
    audit.record("diagnostics.run", overall=document["overall"])
    response = jsonify(document)
    if request.args.get("download"):
        response.headers["Content-Disposition"] = 'attachment; filename="diagnostico-portal.json"'
    return response


@bp.get("/system/info")
def system():
    """CPU, memory, disk of the data folder, network, cgroup limits and this worker's process."""
    return jsonify(system_info.snapshot(current_app.instance_path))


def _address_allowed(address: str | None) -> bool:
    ip = request_middleware.parse_address(address)
    return ip is not None and any(ip in ipaddress.ip_network(item, strict=False)
               for item in current_app.config["METRICS_ALLOWED_ADDRESSES"])


@scrape_bp.get("/metrics")
def prometheus():
    """Prometheus text format, for the addresses in METRICS_ALLOWED_ADDRESSES or a logged-in admin."""
    if not _address_allowed(request.remote_addr) and not (current_user.is_authenticated and
                                                          current_user.role == "admin"):
        abort(404)  # to anyone else it does not exist
    families = scrape.collect()
    instances.publish(scrape.Snapshot(families))  # the dashboard of every instance sums the instances' figures
    response = Response(scrape.exposition(families + job_metrics.families()), mimetype=None,
                        content_type=metrics.CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response
