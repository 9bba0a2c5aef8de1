"""The whole server's truth under real gunicorn with several workers.

K requests spread over the workers are counted exactly K by /metrics and by the dashboard JSON, from
whichever worker answers; a breaker forced open or reset through one worker is seen by every worker
within 2 s (through Redis). Each request opens a new connection so the workers share the load.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import pytest

from tests.conftest import TEST_PASSWORD, skip_or_fail

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_URL = "redis://127.0.0.1:6379/12"
K = 60
CLOSE = {"Connection": "close"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    for key in client.scan_iter("portal:v1:*"):  # this test's own database: start from a clean state
        client.delete(key)
    return client


@pytest.fixture(scope="module")
def server():
    _redis_or_skip()
    tmp = tempfile.mkdtemp(prefix="metrics-gunicorn-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "PROMETHEUS"))}
    env.update(SESSION_SECRET="gunicorn-test-" + "x" * 40, DATABASE_URL=f"sqlite:///{tmp}/portal.db",
               LOG_FILE=f"{tmp}/portal.log", REDIS_URL=REDIS_URL, SYNC_ENABLED="false", MONITORING_COLLECTOR="false",
               DATAJUD_BASE_URL="http://127.0.0.1:9", PYTHONUNBUFFERED="1")
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "users", "create", "--username", "painel", "--role", "admin", "--password-stdin"],
                   cwd=ROOT, env=env, input=TEST_PASSWORD + "\n", text=True, check=True, capture_output=True)
    port = _free_port()
    out = open(os.path.join(tmp, "server.out"), "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", "2", "--threads", "2",
                             "-b", f"127.0.0.1:{port}", "app:create_app()"], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:  # /health/ready, not the route the test counts
                if httpx.get(base + "/health/ready", headers=CLOSE, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                out.flush()
                with open(os.path.join(tmp, "server.out")) as log:
                    pytest.fail("gunicorn did not start: " + log.read()[-1500:])
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()
        shutil.rmtree(tmp, ignore_errors=True)


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
