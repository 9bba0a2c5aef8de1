"""services.jobs: enqueue in each mode, retries, depends_on, failures and their alert, the schedule, the CLI,
and that a serving process with Redis runs no thread for periodic work."""
import re
import time

import httpx
import pytest

from models import Alert
from services import jobs
from services.jobs import schedule, status
from services.jobs import worker as worker_module
from services.jobs.engine import Engine
from services.jobs.scheduler import Scheduler
from tests import jobs_samples
from tests.conftest import TEST_PASSWORD, csrf_token_from, gunicorn_portal


@pytest.fixture(autouse=True)
def fresh_calls():
    jobs_samples.CALLS.clear()


def test_eager_mode_runs_at_once_and_keeps_failures_after_the_retries(app):
    with app.app_context():
        assert jobs.mode() == "eager"  # the default under tests
        ok = jobs.enqueue(jobs_samples.record, 7, queue="high")
        assert ok.status == "finished" and jobs_samples.CALLS == [7]
        failed = jobs.enqueue(jobs_samples.always_fails, "503", retry=jobs.Retry(max=2, interval=[0]), queue="low")
        assert failed.status == "failed"
        panel = status.panel()
    [failure] = panel["failed"]
    assert failure["queue"] == "low" and failure["attempts"] == 3
    assert failure["error"].startswith("RuntimeError: upstream said 503")
    assert "fulano@example.com" not in failure["error"]


def test_bad_jobs_are_refused_where_they_are_enqueued(app):
    with app.app_context():
        with pytest.raises(ValueError, match="unknown queue"):
            jobs.enqueue(jobs_samples.record, 1, queue="urgent")
        with pytest.raises(TypeError):
            jobs.enqueue(jobs_samples.record, {1, 2})  # a set is not JSON: never pickled
        with pytest.raises(ValueError, match="module-level"):
            jobs.enqueue(lambda: None)


def test_in_process_runner_honours_depends_on_and_retries_with_backoff(make_app):
    app = make_app(JOBS_MODE="inprocess")
    with app.app_context():
        first = jobs.enqueue(jobs_samples.flaky, "a", 2, retry=(3, (0, 0)), queue="default")
        after = jobs.enqueue(jobs_samples.record, "after-first", queue="high", depends_on=first)
        broken = jobs.enqueue(jobs_samples.always_fails, "x", queue="low")
        never = jobs.enqueue(jobs_samples.record, "never", queue="high", depends_on=broken)
        for ref in (first, after, broken, never):
            ref.local.future.result(timeout=10)
    assert first.status == "finished" and jobs_samples.CALLS.count("a") == 3
    assert after.status == "finished" and jobs_samples.CALLS[-1] == "after-first"
    assert broken.status == "failed" and never.status == "canceled" and "never" not in jobs_samples.CALLS
    app.extensions["jobs"].stop()


def test_flask_jobs_list_and_the_panel_show_the_same_schedule(make_app):
    app = make_app({"SYNC_INTERVAL_S": "900", "MONITORING_SAMPLE_INTERVAL_S": "15"})
    output = app.test_cli_runner().invoke(args=["jobs", "list"]).output
    with app.app_context():
        rows = status.panel()["periodic"]
    assert [row["name"] for row in rows] == [job.name for job in schedule.PERIODIC]
    for row in rows:
        line = next(line for line in output.splitlines() if line.startswith(row["name"] + " "))
        assert re.search(rf"\b{row['queue']}\b\s+{row['interval_s']}s\s+\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC", line)
    assert {row["name"]: row["interval_s"] for row in rows}["sync"] == 900
    assert output.splitlines()[0] == "mode: eager"


def test_flask_jobs_run_runs_one_now_and_records_it(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run", "chat-cleanup"])
    assert result.exit_code == 0 and "chat-cleanup finished: {'messages_removed': 0" in result.output
    assert "finished at" in runner.invoke(args=["jobs", "list"]).output.split("chat-cleanup", 1)[1].splitlines()[0]
    wrong = runner.invoke(args=["jobs", "run", "nope"])
    assert wrong.exit_code == 2 and "unknown job 'nope'; jobs: sync, retention" in wrong.output
    no_worker = runner.invoke(args=["jobs", "worker"])
    assert no_worker.exit_code == 2 and "the worker needs REDIS_URL" in no_worker.output


def test_each_slot_is_claimed_once_by_several_schedulers_and_again_at_the_next(make_app):
    app = make_app(JOBS_MODE="inprocess")
    engines = [Engine(app) for _ in range(3)]
    engines[0].state.claim("monitoring-sample", 10)
    assert not any(engine.state.claim("monitoring-sample", 10) for engine in engines)
    assert engines[2].state.claim("monitoring-sample", 11)
    claimed = []
    for engine in engines:
        for job, slot in Scheduler(app, engine).due(time.time()):
            if engine.state.claim(job.name, slot):
                claimed.append(job.name)
    assert sorted(claimed) == sorted(job.name for job in schedule.PERIODIC if job.is_enabled(app.config))


# -- RQ mode ----------------------------------------------------------------------------------------------------

def rq_app(make_app, own_redis, **settings):
    return make_app({"REDIS_URL": own_redis.url, **settings}, JOBS_MODE="rq")


def test_rq_a_job_that_raises_is_retried_then_listed_as_failed_and_an_alert_rises(make_app, own_redis, login):
    app = rq_app(make_app, own_redis)
    with app.app_context():
        flaky = jobs.enqueue(jobs_samples.flaky, "b", 1, retry=jobs.Retry(max=2, interval=0), queue="high")
        failing = jobs.enqueue(jobs_samples.always_fails, "503", retry=jobs.Retry(max=2, interval=0))
        engine = app.extensions["jobs"]
        assert engine.queue("default").count == 1 and flaky.mode == "rq"
        waiting = status.panel()
        assert waiting["alive_workers"] == 0
        worker = worker_module.build(app, engine, name=f"test-{flaky.id[:8]}")
        worker.work(burst=True)
        panel = status.panel()
    assert engine.redis.get(f"{app.config['CACHE_KEY_PREFIX']}flaky:b") == b"2"  # failed once, then succeeded
    [failed] = panel["failed"]
    assert failed["id"] == failing.id and failed["queue"] == "default" and failed["retries_left"] == 0
    assert failed["error"].startswith("RuntimeError: upstream said 503") and "example.com" not in failed["error"]
    assert {q["name"]: q["failed"] for q in panel["queues"]} == {"high": 0, "default": 1, "low": 0}
    client = app.test_client()
    login(client, app)
    document = client.get("/api/v1/monitoring/jobs").get_json()
    assert document["mode"] == "rq" and document["failed"][0]["id"] == failing.id
    with app.app_context():
        conditions = {alert.condition for alert in Alert.query.filter(Alert.resolved_at.is_(None))}
    # The burst worker has left: no worker is alive, and the default queue had a failure.
    assert {"jobs_failed:default", "jobs_no_worker"} <= conditions
    page = client.get("/admin/dashboard").get_data(as_text=True)
    assert "Tarefas em segundo plano" in page and "RuntimeError: upstream said 503" in page
    assert "<td>normal</td>" in page and "30 s" in page and "1 dia(s)" in page  # monitoring sample, retention


def test_rq_depends_on_and_a_stalled_queue(make_app, own_redis):
    app = rq_app(make_app, own_redis, SYNC_INTERVAL_S="60")
    with app.app_context():
        first = jobs.enqueue(jobs_samples.record, "one", queue="low")
        jobs.enqueue(jobs_samples.record, "two", queue="high", depends_on=first)
        engine = app.extensions["jobs"]
        assert engine.queue("high").count == 0  # deferred until `first` is done
        engine.queue("default").enqueue_call("tests.jobs_samples.record", args=["old"])
        old_id = engine.queue("default").get_job_ids()[0]
        engine.redis.hset(f"rq:job:{old_id}", "enqueued_at", "2020-01-01T00:00:00.000000Z")
        readings = status.alert_readings(status.panel())
        assert readings["jobs_queue_stalled:default"] == 1.0 and readings["jobs_queue_stalled:high"] == 0.0
        worker_module.build(app, engine, name=f"dep-{first.id[:8]}").work(burst=True)
    # default before low (priority); the job on high waited for its dependency on low
    assert jobs_samples.CALLS == ["old", "one", "two"]


def test_rq_schedulers_of_two_instances_enqueue_each_periodic_job_once(make_app, own_redis):
    first = rq_app(make_app, own_redis)
    second = rq_app(make_app, own_redis)
    schedulers = [Scheduler(app, app.extensions["jobs"]) for app in (first, second)]
    for _ in range(3):
        for scheduler in schedulers:
            scheduler.tick()
    engine = first.extensions["jobs"]
    with first.app_context():
        lengths = {q["name"]: q["length"] for q in status.panel()["queues"]}
    enabled = [job for job in schedule.PERIODIC if job.is_enabled(first.config)]
    assert sum(scheduler.enqueued for scheduler in schedulers) == len(enabled)
    assert lengths == {queue: sum(job.queue == queue for job in enabled) for queue in ("high", "default", "low")}
    assert engine.queue("high").jobs[0].args[0] == "monitoring-sample"


def test_rq_a_slot_is_claimed_by_its_enqueue_kept_once_run_and_never_run_here_without_redis(make_app, own_redis,
                                                                                             monkeypatch):
    monkeypatch.setattr(schedule, "PERIODIC", (CHAIN,))
    first, second = rq_app(make_app, own_redis), rq_app(make_app, own_redis)
    engine = first.extensions["jobs"]
    slot = CHAIN.slot(first.config, time.time())
    with first.app_context():
        ref = engine.enqueue_periodic(CHAIN, slot)
        assert ref is not None and second.extensions["jobs"].enqueue_periodic(CHAIN, slot) is None
        worker_module.build(first, engine, name=f"slot-{ref.id[:8]}").work(burst=True)
        assert jobs_samples.CALLS == ["tick", "after"]
        # Finished, the run still holds its slot: kept at least two intervals, so no scheduler enqueues it again.
        assert engine.enqueue_periodic(CHAIN, slot) is None
        assert engine.redis.ttl(f"rq:job:{ref.id}") > 2 * CHAIN.interval_s(first.config) - 60
        assert engine.enqueue_periodic(CHAIN, slot + 1) is not None
    own_redis.kill()
    scheduler = Scheduler(second, second.extensions["jobs"])
    scheduler.tick()  # Redis refuses the claim: the slot waits for the next tick, it is not run in this process
    assert scheduler.enqueued == 0 and jobs_samples.CALLS == ["tick", "after"]


def test_rq_with_redis_down_a_job_runs_in_this_process_and_the_panel_says_so(make_app, own_redis):
    app = rq_app(make_app, own_redis)
    own_redis.kill()
    with app.app_context():
        ref = jobs.enqueue(jobs_samples.record, "offline", queue="high")
        ref.local.future.result(timeout=10)
        panel = status.panel()
    assert ref.mode == "inprocess" and ref.status == "finished" and jobs_samples.CALLS == ["offline"]
    assert panel["mode"] == "rq" and panel["available"] is False and status.alert_readings(panel) == {}
    app.extensions["jobs"].stop()


def test_the_rq_commands_need_redis_and_known_queues(make_app, own_redis):
    runner = make_app(JOBS_MODE="inprocess").test_cli_runner()
    refused = runner.invoke(args=["jobs", "scheduler"])
    assert refused.exit_code == 2 and "the scheduler needs REDIS_URL" in refused.output
    rq_runner = rq_app(make_app, own_redis).test_cli_runner()
    wrong = rq_runner.invoke(args=["jobs", "worker", "--queues", "high,urgent", "--burst"])
    assert wrong.exit_code == 2 and "unknown queue(s) urgent" in wrong.output


CHAIN = schedule.Periodic("test-chain", "tests.jobs_samples:tick", "low", 3600, "Teste",
                          followed_by=(("tests.jobs_samples:after_tick", "high"),))


def test_rq_a_periodic_run_then_what_depends_on_it_and_a_job_past_its_timeout(make_app, own_redis, monkeypatch):
    monkeypatch.setattr(schedule, "PERIODIC", (*schedule.PERIODIC, CHAIN))
    app = rq_app(make_app, own_redis)
    with app.app_context():
        engine = app.extensions["jobs"]
        run = engine.enqueue_periodic(CHAIN, 5)
        assert engine.queue("high").count == 0  # the follower waits for the run, though its queue comes first
        slow = jobs.enqueue(jobs_samples.slow_marker, "late", 3, timeout=1)
        worker_module.build(app, engine, name=f"chain-{run.id[:8]}").work(burst=True)
        order = [item.decode() for item in engine.redis.lrange(f"{app.config['CACHE_KEY_PREFIX']}order", 0, -1)]
        failed = {row["id"]: row for row in status.panel()["failed"]}
        rows = {row["name"]: row for row in status.panel()["periodic"]}
    assert order == ["tick", "after"]
    assert run.id.endswith("periodic-test-chain-5") and rows["test-chain"]["last_run"]["status"] == "finished"
    assert "JobTimeoutException" in failed[slow.id]["error"]
    assert engine.redis.get(f"{app.config['CACHE_KEY_PREFIX']}done:late") is None


def _admin_client(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10)
    token = csrf_token_from(client.get("/admin/login").text)
    response = client.post("/admin/login", data={"csrf_token": token, "username": "chefe", "password": TEST_PASSWORD})
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "no-redis"])
def test_a_serving_worker_runs_no_periodic_thread_when_redis_is_there(tmp_path, sqlite_template, own_redis,
                                                                      with_redis):
    settings = {"REDIS_URL": own_redis.url, "REDIS_KEY_PREFIX": "threads"} if with_redis else {}
    with gunicorn_portal(tmp_path, sqlite_template, workers=1, users=(("chefe", "admin"),), **settings) as base:
        client = _admin_client(base)
        try:
            threads = client.get("/api/v1/monitoring/metrics").json()["worker_threads"]
        finally:
            client.close()
    periodic = [name for name in threads if name.startswith(("portal-jobs", "portal-sync", "monitoring-collector"))]
    if with_redis:
        assert periodic == [], threads
    else:  # the same check sees the in-process schedule when there is no Redis
        assert "portal-jobs-scheduler" in periodic, threads
