"""Breakers shared across workers through a real Redis; the service registry; readiness stays up."""
import uuid

import pytest
import redis

from services.redis_connection import connect
from services.resilience import DependencyFailed, Resilience, settings_from_config
from services.resilience.breaker import BreakerOpen, State
from services.resilience.shared import SharedBreakers
from tests.conftest import skip_or_fail
from tests.fake_dependency import FakeDependency

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    yield client, prefix
    keys = list(client.scan_iter(match=prefix + "*", count=500))
    if keys:
        client.unlink(*keys)
    client.close()


@pytest.fixture
def dependency():
    fake = FakeDependency()
    yield fake
    fake.stop()


def worker(app, redis_client, prefix, dependency):
    """One gunicorn worker's resilience layer: its own breakers, the shared Redis."""
    config = dict(app.config)
    config["DEPENDENCIES"] = {**config["DEPENDENCIES"],
                              "datajud": {**config["DEPENDENCIES"]["datajud"], "base_url": dependency.url,
                                          "read_timeout_s": 1, "deadline_s": 2}}
    config["RETRY_MAX_ATTEMPTS"] = 1
    shared = SharedBreakers(redis_client, prefix, refresh_s=3600)  # refreshed by hand below, not by time
    return Resilience(settings_from_config(config), shared, redis_client, prefix), shared


def test_one_workers_trip_protects_the_others(app, redis_client, dependency):
    client, prefix = redis_client
    first, first_shared = worker(app, client, prefix, dependency)
    second, second_shared = worker(app, client, prefix, dependency)
    dependency.set("503")
    for _ in range(5):
        with pytest.raises(DependencyFailed):
            first.dependency("datajud").request("POST", "/api_publica_tjes/_search", json={}, idempotent=True)
    assert first.dependency("datajud").breaker.state == State.OPEN
    first_shared.refresh_once()  # publishes
    second_shared.refresh_once()  # adopts
    calls = dependency.count
    with pytest.raises(BreakerOpen):
        second.dependency("datajud").request("POST", "/api_publica_tjes/_search", json={}, idempotent=True)
    assert dependency.count == calls
    first.close()
    second.close()


def test_only_one_worker_runs_the_half_open_trial(app, redis_client, dependency):
    client, prefix = redis_client
    first, _ = worker(app, client, prefix, dependency)
    second, _ = worker(app, client, prefix, dependency)
    for resilience in (first, second):
        resilience.dependency("datajud").breaker.open_until(0.001)
    import time
    time.sleep(0.01)
    trial = first.dependency("datajud").breaker.acquire()
    assert trial.trial
    with pytest.raises(BreakerOpen):
        second.dependency("datajud").breaker.acquire()  # the lease is taken in Redis
    trial.success()  # releases the lease
    assert second.dependency("datajud").breaker.acquire().trial
    first.close()
    second.close()


def test_an_admin_reset_reaches_every_worker(app, redis_client, dependency):
    client, prefix = redis_client
    first, _ = worker(app, client, prefix, dependency)
    second, second_shared = worker(app, client, prefix, dependency)
    second.dependency("datajud").breaker.force_open()
    second_shared.refresh_once()
    first.admin("datajud", "force_open")
    second_shared.refresh_once()
    first.admin("datajud", "reset")
    second_shared.refresh_once()
    assert second.dependency("datajud").breaker.state == State.CLOSED
    first.admin("datajud", "force_open")
    second_shared.refresh_once()
    assert second.dependency("datajud").breaker.state == State.FORCED_OPEN
    first.close()
    second.close()


def test_without_redis_breakers_work_alone(app, dependency):
    dead = connect("redis://127.0.0.1:1/0", 0.1)  # the production client: no retries, 100 ms timeouts
    resilience, shared = worker(app, dead, "test:dead:", dependency)
    dependency.set("503")
    for _ in range(5):
        with pytest.raises(DependencyFailed):
            resilience.dependency("datajud").request("GET", "/x")
    shared.refresh_once()  # fails quietly, keeps the transition queued
    assert not shared.healthy
    with pytest.raises(BreakerOpen):
        resilience.dependency("datajud").request("GET", "/x")
    resilience.close()
    dead.close()


def test_registry_reports_healthy_degraded_and_down(app, dependency):
    config = dict(app.config)
    config["DEPENDENCIES"] = {"datajud": {**app.config["DEPENDENCIES"]["datajud"], "base_url": dependency.url}}
    config["RETRY_MAX_ATTEMPTS"] = 1
    resilience = Resilience(settings_from_config(config))
    dep = resilience.dependency("datajud")
    dep.request("GET", "/x")
    assert [s.status for s in resilience.statuses()] == ["healthy"]
    dependency.set("500")
    with pytest.raises(DependencyFailed):
        dep.request("GET", "/x")
    status = resilience.statuses()[0]
    assert status.status == "degraded" and status.last_error == "HTTP 500" and status.last_error_at
    dep.breaker.force_open()
    assert resilience.statuses()[0].status == "down"
    resilience.close()


def test_an_upstream_down_makes_readiness_warn_not_fail(app, client):
    app.extensions["resilience"].dependency("datajud").breaker.force_open()
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json == {"status": "warn"}
    app.extensions["resilience"].close()


def test_the_client_side_rate_limit_is_shared_by_all_workers(redis_client):
    from services.resilience.ratelimit import SharedTokenBucket

    client, prefix = redis_client
    first = SharedTokenBucket(6, client, prefix + "ratelimit:escavador")  # one token, then one every 10 s
    second = SharedTokenBucket(6, client, prefix + "ratelimit:escavador")
    assert first.take() == 0
    assert second.take() == pytest.approx(10, abs=0.1)  # the other worker already took it


def test_a_shared_rate_limit_without_redis_limits_per_worker():
    from services.resilience.ratelimit import SharedTokenBucket

    dead = connect("redis://127.0.0.1:1/0", 0.1)
    bucket = SharedTokenBucket(6, dead, "test:dead:bucket")
    assert bucket.take() == 0
    assert bucket.take() > 0
    dead.close()
