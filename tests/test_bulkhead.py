"""The bulkhead: a slow dependency holds at most its share of a worker's threads (issue 18, §8.1 B12).

No timing here: "refused at once" is shown by what was (not) sent and counted; the chaos suite measures it.
"""
import threading
import time

import pytest

import config
from services.processes.calls import counting_provider_requests, send_counted
from services.resilience import BulkheadFull
from services.resilience.breaker import BreakerConfig, State
from services.resilience.bulkhead import Bulkhead
from services.resilience.http import Dependency, DependencySettings
from services.resilience.retry import RetryPolicy
from tests.fake_dependency import FakeDependency


@pytest.fixture
def dependency():
    fake = FakeDependency()
    yield fake
    fake.stop()


def test_slots_are_given_back_even_when_the_call_raises():
    bulkhead = Bulkhead("dep", 2, retry_after_s=15)
    with bulkhead.slot(), bulkhead.slot():
        assert bulkhead.snapshot() == {"max_concurrent": 2, "in_use": 2, "rejected": 0}
        with pytest.raises(BulkheadFull) as full, bulkhead.slot():
            pass  # pragma: no cover - never entered
    assert full.value.retry_after_s == 15 and full.value.name == "dep"
    with pytest.raises(RuntimeError), bulkhead.slot():
        raise RuntimeError("the call failed")
    assert bulkhead.snapshot() == {"max_concurrent": 2, "in_use": 0, "rejected": 1}


def test_a_call_past_the_cap_takes_a_slot_freed_within_its_wait():
    bulkhead = Bulkhead("dep", 1, retry_after_s=15, max_wait_s=30)
    entered, release = threading.Event(), threading.Event()

    def holder():
        with bulkhead.slot():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    entered.wait(5)
    threading.Timer(0.05, release.set).start()
    with bulkhead.slot():  # waits for the holder instead of failing
        assert bulkhead.snapshot()["in_use"] == 1
    thread.join(5)
    assert bulkhead.snapshot() == {"max_concurrent": 1, "in_use": 0, "rejected": 0}


def test_no_wait_while_the_running_calls_are_stalled():
    now = [1000.0]
    bulkhead = Bulkhead("dep", 1, retry_after_s=15, max_wait_s=30, clock=lambda: now[0])
    with bulkhead.slot():
        now[0] += 30 * 4  # the call holding the slot has run for 4 waits: the dependency is stalling
        with pytest.raises(BulkheadFull), bulkhead.slot():  # refused at once: the test would hang 30 s otherwise
            pass  # pragma: no cover - never entered
    assert bulkhead.snapshot()["rejected"] == 1


def test_a_bulkhead_needs_a_slot():
    with pytest.raises(ValueError):
        Bulkhead("dep", 0, retry_after_s=1)


def _wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_past_the_cap_a_call_is_refused_without_sending_or_counting_as_a_failure(dependency):
    dependency.set("slow", delay=30)  # parked until released below
    settings = DependencySettings(base_url=dependency.url, connect_timeout_s=1, read_timeout_s=40,
                                  breaker=BreakerConfig(minimum_calls=1, consecutive_failures=1),
                                  retry=RetryPolicy(max_attempts=1, deadline_s=40), max_concurrent=2,
                                  bulkhead_wait_s=0.0)
    dep = Dependency("slowdep", settings)
    answers = []
    holders = [threading.Thread(target=lambda: answers.append(dep.request("GET", "/thing").status_code))
               for _ in range(2)]
    for thread in holders:
        thread.start()
    try:
        _wait_for(lambda: dependency.count == 2)
        with counting_provider_requests() as sent:
            for _ in range(10):
                with pytest.raises(BulkheadFull) as refused:
                    send_counted(dep, "GET", "/thing")
        assert sent[0] == 0  # nothing was sent: the sync's daily budget is not spent
        assert refused.value.retry_after_s == 40  # the running calls end by their deadline
        assert dependency.count == 2
        assert dep.bulkhead.snapshot()["rejected"] == 10
        # A refusal is not the dependency's fault: a breaker that opens on the first failure stays closed.
        assert dep.breaker.state == State.CLOSED and dep.breaker.snapshot()["calls_in_window"] == 0
    finally:
        dependency.set("ok")
        dependency._release.set()
        for thread in holders:
            thread.join(10)
    assert answers == [200, 200]
    assert dep.request("GET", "/thing").status_code == 200  # the slots were given back
    dep.close()


def test_the_cap_defaults_to_half_the_threads_and_each_dependency_may_set_its_own(tmp_path):
    deps = config.load({}, str(tmp_path)).settings["DEPENDENCIES"]
    assert {spec["max_concurrent"] for spec in deps.values()} == {2}  # 4 threads
    deps = config.load({"GUNICORN_THREADS": "8", "OPENAI_MAX_CONCURRENT": "3"}, str(tmp_path)).settings["DEPENDENCIES"]
    assert deps["datajud"]["max_concurrent"] == 4 and deps["openai"]["max_concurrent"] == 3
    assert config.load({"GUNICORN_THREADS": "1"}, str(tmp_path)).settings["DEPENDENCIES"]["datajud"][
        "max_concurrent"] == 1
    deps = config.load({"BULKHEAD_MAX_CONCURRENT": "6"}, str(tmp_path)).settings["DEPENDENCIES"]
    assert deps["escavador"]["max_concurrent"] == 6
    with pytest.raises(config.ConfigError, match="DATAJUD_MAX_CONCURRENT must be"):
        config.load({"DATAJUD_MAX_CONCURRENT": "0"}, str(tmp_path))


def test_the_breaker_settings_reach_the_dependencies(tmp_path, make_app):
    settings = config.load({"BREAKER_CONSECUTIVE_FAILURES": "7"}, str(tmp_path)).settings
    assert settings["BREAKER"]["consecutive_failures"] == 7
    app = make_app({"DATAJUD_MAX_CONCURRENT": "3", "BREAKER_CONSECUTIVE_FAILURES": "9"})
    with app.app_context():
        from services import resilience

        dep = resilience.dependency("datajud")
        assert dep.bulkhead.max_concurrent == 3 and dep.breaker.config.consecutive_failures == 9


def _tjes_number(sequence: int) -> str:
    from utils import cnj

    return cnj.format(f"{sequence:07d}{cnj.check_digits(sequence, 2024, 8, 8, 24)}2024808" + "0024")


def test_a_lookup_past_the_bulkhead_gets_the_stored_copy_or_the_documented_503_at_once(make_app, datajud):
    from extensions import db
    from models import ProcessInstance

    stored = "0022783-22.2017.8.08.0024"
    app = make_app({"DATAJUD_BASE_URL": datajud.url, "DATAJUD_MAX_CONCURRENT": "1", "DATAJUD_READ_TIMEOUT_S": "30",
                    "DATAJUD_DEADLINE_S": "30", "LOOKUP_RATE_LIMIT": "1000/minute"})
    client = app.test_client()
    assert client.get(f"/api/v1/processos/{stored}").json["stale"] is False
    with app.app_context():  # age the stored copy and the cache instead of sleeping
        for row in db.session.execute(db.select(ProcessInstance)).scalars():
            row.valid_until = row.fetched_at
        db.session.commit()
        app.extensions["cache"].invalidate_namespace("processes")
        app.extensions["cache"].invalidate_namespace("processes-fetch")
    datajud.set("ok", delay=30)  # parked until released
    holder = threading.Thread(target=lambda: app.test_client().get(f"/api/v1/processos/{_tjes_number(1)}"))
    holder.start()
    try:
        _wait_for(lambda: datajud.count == 2)
        unseen = client.get(f"/api/v1/processos/{_tjes_number(2)}")
        assert unseen.status_code == 503 and unseen.json["error"]["code"] == "upstream_unavailable"
        assert int(unseen.headers["Retry-After"]) >= 1
        page = client.get(f"/processos/{_tjes_number(3)}", headers={"X-Request-ID": "req-unavailable-page"})
        assert page.status_code == 503 and page.headers["Retry-After"]
        # The citizen can quote the code to the court's staff: the same one the log lines carry.
        assert "<code>req-unavailable-page</code>" in page.get_data(as_text=True)
        old = client.get(f"/api/v1/processos/{stored}")
        assert old.status_code == 200 and old.json["stale"] is True
        assert "demorando a responder" in old.json["stale_reason"]
        assert datajud.count == 2  # none of them reached the source
        assert app.extensions["resilience"].dependency("datajud").breaker.state == State.CLOSED
    finally:
        datajud.set("ok")
        datajud._release.set()
        holder.join(10)
