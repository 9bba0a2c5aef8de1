"""Health endpoints: liveness checks nothing, readiness checks the database and its migrations."""
import threading
import time

from services.monitoring.readiness import Readiness, ReadinessProbe, migration_heads


def test_live_is_status_only(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.mimetype == "application/health+json"
    assert response.json == {"status": "pass"}


def test_ready_when_migrated(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.mimetype == "application/health+json"
    assert response.json == {"status": "pass"}


def test_not_ready_without_migrations(make_app):
    client = make_app(migrate=False).test_client()
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json == {"status": "fail"}


def test_not_ready_when_the_database_is_unreachable(make_app):
    # A port nothing listens on: the connection is refused at once.
    app = make_app({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, migrate=False)
    started = time.perf_counter()
    response = app.test_client().get("/health/ready")
    assert response.status_code == 503 and response.json == {"status": "fail"}
    assert time.perf_counter() - started < 5
    # Liveness does not care.
    assert app.test_client().get("/health/live").status_code == 200


def test_a_hung_check_is_cut_at_the_time_box_and_not_stacked(app):
    release = threading.Event()
    calls = []

    class HangingProbe(ReadinessProbe):
        def _query(self):
            calls.append(1)
            release.wait(5)
            return Readiness("pass", None, time.time())

    probe = HangingProbe(app, {"0001"}, timeout=0.2, cache_seconds=0)
    first = probe.check()
    second = probe.check()
    release.set()
    assert first.status == second.status == "fail"
    assert "did not answer within 0.2 s" in first.reason
    assert len(calls) == 1  # the second probe waited on the first check instead of starting another


def test_readiness_is_cached(app):
    calls = []

    class CountingProbe(ReadinessProbe):
        def _query(self):
            calls.append(1)
            return super()._query()

    probe = CountingProbe(app, migration_heads(app.extensions["migrations_dir"]), timeout=1, cache_seconds=60)
    results = [probe.check() for _ in range(50)]
    assert all(result.ready for result in results)
    assert len(calls) == 1


def test_cli_upgrade_makes_a_fresh_database_ready(make_app):
    app = make_app(migrate=False, READY_CACHE_SECONDS=0)
    client = app.test_client()
    assert client.get("/health/ready").status_code == 503
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert client.get("/health/ready").status_code == 200
