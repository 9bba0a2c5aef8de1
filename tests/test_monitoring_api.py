"""The monitoring API: who may call it, what it answers, and the admin actions."""
from __future__ import annotations

import re

import pytest

from services.monitoring import collector, scrape

ADMIN_GETS = ["/api/v1/monitoring/health/detailed", "/api/v1/monitoring/metrics",
              "/api/v1/monitoring/metrics/request_rate", "/api/v1/monitoring/performance",
              "/api/v1/monitoring/alerts", "/api/v1/monitoring/cache/status", "/api/v1/monitoring/diagnostics",
              "/api/v1/monitoring/system/info"]
ADMIN_POSTS = ["/api/v1/monitoring/alerts/1/resolve", "/api/v1/monitoring/cache/clear",
               "/api/v1/monitoring/breakers/datajud/reset"]


@pytest.fixture
def app(make_app):
    """This module's app: DataJud (a closed port) given up on quickly."""
    return make_app({"DATAJUD_DEADLINE_S": "0.5"})


def csrf_header(client) -> dict:
    """The CSRF token of a logged-in session, from the admin layout's logout form."""
    html = client.get("/admin/auditoria").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the admin page"
    return {"X-CSRFToken": match.group(1)}


def test_basic_health_is_public_and_says_only_the_status(app):
    response = app.test_client().get("/api/v1/monitoring/health")
    assert response.status_code == 200 and response.mimetype == "application/health+json"
    assert response.get_json() == {"status": "pass"}


def test_everything_else_refuses_anonymous_and_staff(make_app, login):
    # CSRF checked by the views' forms only, so the POSTs reach the role check (CSRF has its own test).
    app = make_app(WTF_CSRF_CHECK_DEFAULT=False)
    anonymous = app.test_client()
    for url in ADMIN_GETS:
        assert anonymous.get(url).status_code == 401, url
    for url in ADMIN_POSTS:
        assert anonymous.post(url, json={}).status_code == 401, url
    staff = app.test_client()
    login(staff, app, role="staff")
    for url in ADMIN_GETS:
        response = staff.get(url)
        assert response.status_code == 403 and response.is_json, url
    for url in ADMIN_POSTS:
        assert staff.post(url, json={}).status_code == 403, url


def test_dashboard_document_counts_requests_and_reports_the_parts(app, login):
    client = app.test_client()
    login(client, app)
    before = client.get("/api/v1/monitoring/performance").get_json()["routes"]
    live = next((r["requests"] for r in before if r["route"] == "/health/live"), 0)
    for _ in range(5):
        client.get("/health/live")
    document = client.get("/api/v1/monitoring/metrics").get_json()
    routes = {r["route"]: r for r in client.get("/api/v1/monitoring/performance").get_json()["routes"]}
    assert routes["/health/live"]["requests"] - live == 5
    assert routes["/health/live"]["latency"]["p95_ms"] is not None
    assert document["requests"]["total"] >= 5 and document["latency"]["p99_ms"] >= document["latency"]["p50_ms"]
    assert [dep["name"] for dep in document["dependencies"]] == ["datajud"]  # the others have no key
    assert document["health"]["score"] <= 100 and document["health"]["components"][0]["name"] == "database"
    assert {"answers_by_path", "llm_failures"} <= set(document["assistant"])
    assert "summary" in document["sync"] and document["alerts"] == []
    assert document["system"]["disk_percent"] is not None
    response = client.get("/api/v1/monitoring/metrics")
    assert response.headers["Cache-Control"] == "no-store"


def test_history_after_samples(app, login):
    client = app.test_client()
    login(client, app)
    collector = app.extensions["monitoring"]
    assert "jobs_scheduler" not in app.extensions  # no schedule thread under tests
    collector.run_once()
    for _ in range(25):
        client.get("/health/live")
    collector.run_once()
    points = client.get("/api/v1/monitoring/metrics/request_rate").get_json()["points"]
    assert len(points) == 1 and points[0][1] > 0  # the first sample has no window yet
    assert len(client.get("/api/v1/monitoring/metrics/cpu").get_json()["points"]) == 2
    assert client.get("/api/v1/monitoring/metrics/nope").status_code == 404
    latest = client.get("/api/v1/monitoring/metrics").get_json()["requests"]
    assert latest["rate_per_s"] == points[0][1]


def test_window_figures_need_volume():
    base = {"time": 0.0, "requests": 0, "errors": 0, "latency": scrape.Histo().to_json(), "cache": {},
            "unauthorized": {}, "sync_failed": 0}
    later = {**base, "time": 30.0, "requests": 10, "errors": 5}
    figures = collector.window(later, base)
    assert figures["request_rate"] == round(10 / 30, 3) and figures["error_rate"] is None
    later = {**base, "time": 30.0, "requests": 40, "errors": 2, "cache": {"hit": 30, "miss": 10}}
    figures = collector.window(later, base)
    assert figures["error_rate"] == 5.0 and figures["cache_hit_rate"] == 75.0


def test_cache_clear_breaker_actions_and_alert_resolution_are_audited(app, login):
    from sqlalchemy import select

    from extensions import db
    from models import Alert, AuditEntry
    from services import cache
    from services.monitoring import alerts

    client = app.test_client()
    login(client, app)
    with app.app_context():
        cache.current().set("pages", "/x", {"body": "b"}, ttl=60)
        alerts.evaluate({"disk": 99.5}, app.config)
        alert_id = db.session.scalars(select(Alert.id)).one()
    headers = csrf_header(client)
    assert client.post("/api/v1/monitoring/cache/clear", json={"namespace": "pages"},
                       headers=headers).status_code == 200
    with app.app_context():
        assert cache.current().get("pages", "/x") is None
    assert client.post("/api/v1/monitoring/cache/clear", json={"namespace": "bad space"},
                       headers=headers).status_code == 400
    response = client.post("/api/v1/monitoring/breakers/datajud/force_open", headers=headers)
    assert response.status_code == 200 and response.get_json()["state"] == "forced_open"
    assert client.post("/api/v1/monitoring/breakers/datajud/reset", headers=headers).get_json()["state"] == "closed"
    assert client.post("/api/v1/monitoring/breakers/nope/reset", headers=headers).status_code == 404
    assert client.post("/api/v1/monitoring/breakers/datajud/explode", headers=headers).status_code == 404
    resolved = client.post(f"/api/v1/monitoring/alerts/{alert_id}/resolve", headers=headers).get_json()["alert"]
    assert resolved["resolved_at"] and resolved["resolved_by"].startswith("admin-")
    assert client.get("/api/v1/monitoring/alerts").get_json()["alerts"] == []
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"cache.clear", "breaker.force_open", "breaker.reset", "alert.resolve"} <= actions


def test_state_changing_calls_need_the_csrf_token(make_app, login):
    app = make_app()
    client = app.test_client()
    login(client, app)
    assert client.post("/api/v1/monitoring/cache/clear", json={"namespace": "pages"}).status_code in (400, 403)
    assert client.get("/api/v1/monitoring/cache/clear").status_code == 405


def test_prometheus_scrape_by_address_or_admin(app, login):
    local = app.test_client()
    response = local.get("/metrics")  # the test client comes from 127.0.0.1
    assert response.status_code == 200 and b"portal_http_requests_total" in response.data
    assert response.headers["Content-Type"].startswith("text/plain")
    outsider = app.test_client()
    outsider.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert outsider.get("/metrics").status_code == 404
    admin = app.test_client()
    login(admin, app)  # from a 10.x address, not in the allowed list
    assert admin.get("/metrics").status_code == 200
    staff = app.test_client()
    login(staff, app, role="staff")
    assert staff.get("/metrics").status_code == 404


def test_allowed_addresses_accept_networks(make_app):
    app = make_app({"METRICS_ALLOWED_ADDRESSES": "10.0.0.0/8"})
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert client.get("/metrics").status_code == 200
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    assert client.get("/metrics").status_code == 404


def test_every_monitoring_route_is_in_the_openapi_document(app):
    documented = set(app.test_client().get("/api/v1/openapi.json").get_json()["paths"])
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/monitoring"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            assert path in documented, path
