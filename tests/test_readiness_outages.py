"""Readiness through outages (issue 18): "warn" while Redis is configured but down, a quick recheck after a failure.

Redis "down" is a port where nothing listens: the machine's Redis is never stopped by a test.
"""
import time

import pytest
import redis as redis_lib

from services.monitoring import readiness
from services.monitoring.readiness import Readiness, ReadinessProbe
from tests.conftest import free_port, skip_or_fail

SHARED_REDIS = "redis://127.0.0.1:6379/15"


def test_redis_configured_but_unreachable_is_warn_not_fail(make_app):
    app = make_app({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, READY_CACHE_SECONDS=60)
    client = app.test_client()
    response = client.get("/health/ready")
    assert response.status_code == 200 and response.json == {"status": "warn"}
    with app.test_request_context():
        assert "redis unreachable" in readiness.readiness().reason


def test_the_redis_check_adds_no_work_to_a_probe(make_app):
    app = make_app({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, READY_CACHE_SECONDS=60)
    cache = app.extensions["cache"]
    pings = []
    original = cache.ping
    cache.ping = lambda: pings.append(1) or original()
    client = app.test_client()
    answers = {client.get("/health/ready").json["status"] for _ in range(30)}
    assert answers == {"warn"}
    assert len(pings) == 1  # the ping rides the cached background check; each probe reads a flag


def test_redis_reachable_is_pass(make_app):
    try:
        redis_lib.Redis.from_url(SHARED_REDIS, socket_connect_timeout=0.5).ping()
    except redis_lib.RedisError as exc:
        skip_or_fail(f"Redis is not reachable at {SHARED_REDIS}: {exc}")
    app = make_app({"REDIS_URL": SHARED_REDIS})
    assert app.test_client().get("/health/ready").json == {"status": "pass"}


def test_without_redis_there_is_nothing_to_warn_about(client):
    assert client.get("/health/ready").json == {"status": "pass"}


def test_a_failed_check_is_rechecked_soon_so_workers_agree_once_the_database_is_back(app, monkeypatch):
    monkeypatch.setattr(readiness, "FAIL_RECHECK_S", 0.0)
    answers = iter([Readiness("fail", "database unreachable", 0), Readiness("pass", None, 0),
                    Readiness("fail", "never asked: a pass is kept for cache_seconds", 0)])
    calls = []

    class ScriptedProbe(ReadinessProbe):
        def _query(self):
            calls.append(1)
            found = next(answers)
            return Readiness(found.status, found.reason, time.time())

    probe = ScriptedProbe(app, {"head"}, timeout=1, cache_seconds=60)
    assert probe.check().status == "fail"
    assert probe.check().status == "pass"  # not the failure kept for 60 s
    assert [probe.check().status for _ in range(10)] == ["pass"] * 10
    assert len(calls) == 2


@pytest.mark.parametrize("status, ready", [("pass", True), ("warn", True), ("fail", False)])
def test_warn_keeps_the_instance_in_rotation(status, ready):
    assert Readiness(status, None, 0).ready is ready
