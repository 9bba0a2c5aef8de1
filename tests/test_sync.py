"""The sync job against a fake Escavador on loopback: order, batches, budget, breaker, retention, one runner, CLI."""
import threading
import time
from datetime import timedelta

import click
import pytest

from extensions import db
from models import FollowedProcess, Movement, ProcessInstance, SyncRun, utcnow
from services import background, locks, resilience
from services.processes import sync
from tests.conftest import skip_or_fail
from tests.fake_escavador import FakeEscavador, minimal_process
from utils import cnj


def number(sequence: int) -> str:
    """A valid TJES number (Cariacica, 2024) for each sequence."""
    return f"{sequence:07d}{cnj.check_digits(sequence, 2024, 8, 8, 12)}202480800" + "12"


@pytest.fixture
def fake():
    server = FakeEscavador(processes={}, movements={})
    yield server
    server.stop()


def follow(app, fake, *numbers, known=True):
    with app.app_context():
        for value in numbers:
            db.session.add(FollowedProcess(cnj=value))
            if known:
                fake.add(minimal_process(value), [])
        db.session.commit()


def store(app, value, valid_in=timedelta(days=1), read_ago=timedelta(0)):
    """A stored instance of `value` expiring `valid_in` from now, last read `read_ago` ago, with one movement."""
    now = utcnow()
    with app.app_context():
        row = ProcessInstance(cnj=value, source="escavador", source_id=f"escavador:{value}", degree="G1",
                      fetched_at=now - timedelta(days=2), valid_until=now + valid_in, last_accessed_at=now - read_ago,
                      subjects=[], raw={})
        row.movements = [Movement(at=now - timedelta(days=3), code=None, name="Distribuído", complements=[],
                                  position=0)]
        db.session.add(row)
        db.session.commit()


def runs(app):
    with app.app_context():
        return list(db.session.execute(db.select(SyncRun).order_by(SyncRun.id)).scalars())


def run_once(app, **kwargs):
    with app.app_context():
        record = sync.run(**kwargs)
        return None if record is None else {c.name: getattr(record, c.name) for c in SyncRun.__table__.columns}


def test_soonest_to_expire_first_in_batches(make_app, fake):
    app = make_app({"SYNC_BATCH_SIZE": "2"}, escavador=fake)
    a, b, c, d, e = (number(i) for i in (101, 102, 103, 104, 105))
    follow(app, fake, a, b, c, d)
    store(app, a, valid_in=-timedelta(hours=1))
    store(app, c, valid_in=-timedelta(hours=2))
    store(app, d, valid_in=timedelta(days=5))  # fresh for days: not due
    store(app, e, valid_in=-timedelta(days=1))  # expired but nobody follows it
    first = run_once(app)
    assert fake.requested_numbers() == [b, c]  # never fetched first, then the longest expired
    assert first["status"] == "ok" and (first["checked"], first["refreshed"]) == (2, 2)
    assert first["upstream_calls"] == 4  # the process and one page of movements each
    assert run_once(app)["refreshed"] == 1 and fake.requested_numbers()[-1] == a
    third = run_once(app)
    assert third["checked"] == 0 and third["status"] == "ok" and len(fake.requested_numbers()) == 3
    assert d not in fake.requested_numbers() and e not in fake.requested_numbers()


def test_the_daily_budget_holds_across_runs(make_app, fake):
    app = make_app({"SYNC_DAILY_BUDGET": "4"}, escavador=fake)
    follow(app, fake, *(number(i) for i in range(201, 205)))
    with app.app_context():  # yesterday's runs (court calendar day) do not count
        db.session.add(SyncRun(trigger="cli", status="ok", upstream_calls=500,
                               started_at=sync._day_start(utcnow()) - timedelta(minutes=1)))
        db.session.commit()
    first = run_once(app)
    assert (first["refreshed"], first["skipped"], first["upstream_calls"]) == (2, 2, 4)
    assert first["status"] == "partial" and "daily budget" in first["error"]
    requests = fake.count
    second = run_once(app)
    assert second["status"] == "skipped" and second["skipped"] == 2 and fake.count == requests
    with app.app_context():
        budget = sync.last_run_summary()["budget"]
    assert (budget["used"], budget["limit"], budget["remaining"]) == (4, 4, 0)
    assert budget["timezone"] == "America/Sao_Paulo"


def test_an_open_breaker_skips_the_batch(make_app, fake):
    app = make_app(escavador=fake)
    follow(app, fake, number(301), number(302), number(303))
    with app.app_context():
        resilience.current().admin("escavador", "force_open")
    record = run_once(app)
    assert record["status"] == "skipped" and record["skipped"] == 3 and record["checked"] == 3
    assert "circuit open" in record["error"] and fake.count == 0


def test_a_number_the_source_no_longer_knows_waits_a_day(make_app, fake):
    app = make_app(escavador=fake)
    follow(app, fake, number(401), known=False)
    first = run_once(app)
    assert first["status"] == "failed" and first["failed"] == 1 and "not found" in first["error"]
    second = run_once(app)
    assert second["skipped"] == 1 and fake.count == 1


def test_retention_removes_only_unfollowed_unread_rows(make_app, fake):
    app = make_app({"PROCESS_RETENTION_DAYS": "7"}, escavador=fake)
    old, recent, followed = number(501), number(502), number(503)
    store(app, old, read_ago=timedelta(days=8))
    store(app, recent, read_ago=timedelta(days=1))
    store(app, followed, valid_in=timedelta(days=3), read_ago=timedelta(days=30))
    follow(app, fake, followed)
    with app.app_context():
        app.extensions["cache"].set("processes", old, {"cnj": old}, ttl=3600)
    record = run_once(app)
    assert record["removed"] == 1 and record["status"] == "ok" and fake.count == 0
    with app.app_context():
        left = sorted(db.session.execute(db.select(ProcessInstance.cnj)).scalars())
        movements = db.session.execute(db.select(db.func.count()).select_from(Movement)).scalar()
        assert app.extensions["cache"].get("processes", old) is None
    assert left == sorted([recent, followed]) and movements == 2


def _two_runners(app, fake):
    follow(app, fake, number(601))
    fake.set("hold")
    results = {}

    def first():
        results["first"] = run_once(app)

    thread = threading.Thread(target=first)
    thread.start()
    assert fake.holding.wait(5), "the first runner never reached the source"
    results["second"] = run_once(app)  # while the first holds the lock
    fake.set("ok")
    fake.release()
    thread.join(10)
    assert results["second"] is None
    assert results["first"]["status"] == "ok" and results["first"]["refreshed"] == 1
    assert len(runs(app)) == 1


def test_two_runners_one_runs_on_sqlite(make_app, fake):
    _two_runners(make_app(escavador=fake), fake)


@pytest.mark.postgres
def test_two_runners_one_runs_on_postgresql(make_app, fake, postgres_url):
    _two_runners(make_app({"DATABASE_URL": postgres_url}, escavador=fake), fake)


def test_two_runners_one_runs_with_redis(make_app, fake):
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=0.5).ping()
    except redis.RedisError:
        skip_or_fail("Redis is not reachable at 127.0.0.1:6379")
    app = make_app({"REDIS_URL": "redis://127.0.0.1:6379/0"}, escavador=fake)
    with app.app_context():
        assert isinstance(locks.for_database(app.config), locks.RedisLock)
    _two_runners(app, fake)


def test_a_run_left_running_is_closed_as_interrupted(make_app, fake):
    app = make_app(escavador=fake)
    with app.app_context():
        db.session.add(SyncRun(trigger="scheduler", status="running", started_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    run_once(app)
    first, second = runs(app)
    assert first.status == "failed" and "interrupted" in first.error and second.status == "ok"


def test_the_command_prints_a_summary(make_app, fake):
    app = make_app(escavador=fake)
    follow(app, fake, number(701), number(702))
    result = app.test_cli_runner().invoke(args=["processes", "sync"])
    assert result.exit_code == 0, result.output
    summary = result.output.strip().splitlines()[-1]
    assert summary.startswith("sync #1 ok in ") and "2 checked, 2 refreshed, 0 failed" in summary
    assert "4 provider calls (today 4/200)" in summary


def test_the_command_fails_when_the_run_fails(make_app, fake):
    app = make_app(escavador=fake)
    follow(app, fake, number(801), number(802))
    fake.set("503")
    result = app.test_cli_runner().invoke(args=["processes", "sync"])
    assert result.exit_code == 1 and "failed" in result.output.splitlines()[-1]
    assert runs(app)[0].failed == 2


def test_the_command_does_nothing_while_another_runner_holds_the_lock(make_app, fake):
    app = make_app(escavador=fake)
    with app.app_context():
        lock = locks.for_database(app.config)
        assert lock.acquire()
        try:
            result = app.test_cli_runner().invoke(args=["processes", "sync"])
        finally:
            lock.release()
    assert result.exit_code == 0 and "another sync run holds the lock" in result.output
    assert runs(app) == []


def test_the_summary_for_the_dashboard(make_app, fake):
    app = make_app(escavador=fake)
    with app.app_context():
        empty = sync.last_run_summary()
    assert empty["last_run"] is None and empty["budget"]["used"] == 0 and empty["next_run_due"]
    follow(app, fake, number(901))
    run_once(app)
    with app.app_context():
        summary = sync.last_run_summary()
    last = summary["last_run"]
    assert last["status"] == "ok" and last["refreshed"] == 1 and last["duration_s"] >= 0
    assert last["finished_at"].endswith("Z") and summary["followed"] == 1 and summary["interval_s"] == 1800
    assert summary["next_run_due"] > last["started_at"]


def test_schedulers_of_several_workers_make_one_run(make_app, fake):
    """Three serving processes without Redis: each runs the in-process schedule; the sync slot is claimed once."""
    from services.jobs.engine import Engine
    from services.jobs.scheduler import Scheduler

    app = make_app({"SYNC_INTERVAL_S": "60", "MONITORING_COLLECTOR": "false"}, escavador=fake,
                   JOBS_MODE="inprocess")
    follow(app, fake, number(1001))
    engines = [Engine(app) for _ in range(3)]
    schedulers = [Scheduler(app, engine) for engine in engines]
    for scheduler in schedulers:
        scheduler.tick()
    for engine in engines:
        for job in list(engine.local.running.values()) + [j for q in engine.local.pending.values() for j in q]:
            job.future.result(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (runs(app) and runs(app)[0].status != "running"):
        time.sleep(0.05)
    for engine in engines:
        engine.stop()
    from services.jobs import schedule

    enabled = [job for job in schedule.PERIODIC if job.is_enabled(app.config)]
    assert "sync" in {job.name for job in enabled}
    assert sum(scheduler.enqueued for scheduler in schedulers) == len(enabled)  # each enabled job once
    assert len(runs(app)) == 1 and runs(app)[0].trigger == "scheduler"


def test_the_factory_starts_no_scheduler_under_tests_or_cli(make_app):
    app = make_app({"SYNC_ENABLED": "true"})
    assert "jobs_scheduler" not in app.extensions
    assert background.serving(app) is False  # tests never start threads
    app.testing = False
    with click.Context(click.Command("db"), info_name="db"):
        assert background.serving(app) is False
    with click.Context(click.Command("run"), info_name="run"):
        assert background.serving(app) is True
    assert background.serving(app) is True  # gunicorn: no click context at all
