"""The whole server's truth under real gunicorn with several workers.

K requests spread over the workers are counted exactly K by /metrics and by the dashboard JSON, from
whichever worker answers; a breaker forced open or reset through one worker is seen by every worker
within 2 s (through Redis). Each request opens a new connection so the workers share the load.
"""
from __future__ import annotations

import re
import time

import httpx
import pytest

from services.monitoring import metrics
from tests.conftest import CLOSED_URL, TEST_PASSWORD, RedisServer, gunicorn_portal

K = 60
CLOSE = {"Connection": "close"}


@pytest.fixture(scope="module")
def server(tmp_path_factory, sqlite_template):
    """Two workers sharing a Redis of their own: nothing another test (or another suite on the machine) does to
    the shared Redis can reach their breaker state."""
    tmp = tmp_path_factory.mktemp("metrics-gunicorn")
    redis_server = RedisServer(tmp)
    redis_server.start()
    try:
        with gunicorn_portal(tmp, sqlite_template, workers=2, threads=2, users=(("painel", "admin"),),
                             REDIS_URL=redis_server.url, SYNC_ENABLED="false", MONITORING_COLLECTOR="false",
                             DATAJUD_BASE_URL=CLOSED_URL) as base:
            yield base
    finally:
        redis_server.stop()


@pytest.fixture(scope="module")
def admin(server):
    client = httpx.Client(base_url=server, headers=CLOSE, timeout=10)
    html = client.get("/admin/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    response = client.post("/admin/login", data={"csrf_token": token, "username": "painel",
                                                 "password": TEST_PASSWORD})
    assert response.status_code == 302, response.text[:300]
    page = client.get("/admin/auditoria").text
    client.headers["X-CSRFToken"] = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    yield client
    client.close()


def _scraped_count(text: str, route: str) -> tuple[float, float]:
    requests = sum(float(m.group(1)) for m in re.finditer(
        r'^portal_http_requests_total\{[^}]*route="' + re.escape(route) + r'"[^}]*\} (\S+)$', text, re.M))
    histogram = sum(float(m.group(1)) for m in re.finditer(
        r'^portal_http_request_duration_seconds_count\{route="' + re.escape(route) + r'"\} (\S+)$', text, re.M))
    return requests, histogram


def test_k_requests_counted_exactly_k_from_any_worker(server, admin):
    route = "/health/live"
    for _ in range(K):
        assert httpx.get(server + route, headers=CLOSE).status_code == 200
    # Each worker writes its request figures every PUBLISH_INTERVAL_S (services/monitoring/metrics.py): after that,
    # every scrape, whichever worker answers it, counts exactly K.
    time.sleep(metrics.PUBLISH_INTERVAL_S * 2 + 0.5)
    for _ in range(5):
        scraped = httpx.get(server + "/metrics", headers=CLOSE).text
        assert _scraped_count(scraped, route) == (K, K)
    workers = set()
    for _ in range(40):
        document = admin.get("/api/v1/monitoring/metrics").json()
        workers.add(document["worker_pid"])
        row = next(r for r in document["routes"] if r["route"] == route)
        assert row["requests"] == K and row["latency"]["count"] == K
        if len(workers) >= 2 and _ >= 19:
            break
    assert len(workers) >= 2, "every dashboard call was answered by the same worker"


def _states_seen(admin, wanted: str, within_s: float) -> dict[int, str]:
    """Ask repeatedly (new connections, so both workers answer) until each worker reports `wanted`."""
    seen: dict[int, str] = {}
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        document = admin.get("/api/v1/monitoring/metrics").json()
        datajud = next(d for d in document["dependencies"] if d["name"] == "datajud")
        seen[document["worker_pid"]] = datajud["breaker_this_worker"]
        if len(seen) >= 2 and all(state == wanted for state in seen.values()):
            return seen
        time.sleep(0.05)
    return seen


def test_breaker_actions_reach_every_worker_within_two_seconds(server, admin):
    assert _states_seen(admin, "closed", 5)  # every worker has built its datajud breaker
    response = admin.post("/api/v1/monitoring/breakers/datajud/force_open")
    assert response.status_code == 200, response.text
    seen = _states_seen(admin, "forced_open", 2.0)
    assert len(seen) >= 2 and set(seen.values()) == {"forced_open"}, seen
    scraped = httpx.get(server + "/metrics", headers=CLOSE).text
    assert re.search(r'^portal_breaker_state\{dependency="datajud"\} 4\.0$', scraped, re.M)
    assert admin.post("/api/v1/monitoring/breakers/datajud/reset").status_code == 200
    seen = _states_seen(admin, "closed", 2.0)
    assert len(seen) >= 2 and set(seen.values()) == {"closed"}, seen
