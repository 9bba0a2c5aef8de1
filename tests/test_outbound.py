"""Outbound calls through the resilience layer against a real HTTP server on loopback (§8.1, §8.2)."""
import ast
import time
from pathlib import Path

import pytest

from services.resilience import ClientRateLimited, DependencyFailed, MalformedResponse
from services.resilience.breaker import BreakerConfig, BreakerOpen, State
from services.resilience.http import Dependency, DependencySettings
from services.resilience.retry import RetryPolicy, parse_retry_after
from tests.fake_dependency import FakeDependency
from utils.json_log import current_request_id

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def dependency():
    fake = FakeDependency()
    yield fake
    fake.stop()


class Sleeps:
    """Records the waits instead of sleeping them (time where it matters, without slow tests)."""

    def __init__(self):
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)


def make_dependency(dependency, sleeps=None, **overrides):
    breaker = overrides.pop("breaker", BreakerConfig(minimum_calls=5, open_s=30, slow_call_s=5))
    retry = overrides.pop("retry", RetryPolicy(max_attempts=3, base_s=0.05, cap_s=0.5, deadline_s=5))
    settings = DependencySettings(base_url=dependency.url, connect_timeout_s=1, read_timeout_s=1, breaker=breaker,
                                  retry=retry, **overrides)
    return Dependency("fake", settings, sleep=sleeps or Sleeps())


def test_a_healthy_call_returns_the_answer_and_sends_the_request_id(dependency):
    dep = make_dependency(dependency)
    token = current_request_id.set("req-outbound-0001")
    try:
        response = dep.request("GET", "/thing")
    finally:
        current_request_id.reset(token)
        dep.close()
    assert response.json() == {"ok": True}
    assert dependency.last_headers["x-request-id"] == "req-outbound-0001"
    assert dependency.count == 1


@pytest.mark.parametrize("mode", ["500", "503", "429", "malformed"])
def test_failures_are_retried_up_to_the_attempt_limit(dependency, mode):  # R1, R6
    dependency.set(mode)
    dependency.retry_after = "0"
    dep = make_dependency(dependency)

    def json_body(response):
        if "json" not in response.headers.get("content-type", ""):
            raise MalformedResponse("not JSON")

    with pytest.raises(DependencyFailed) as failed:
        dep.request("GET", "/thing", validate=json_body)
    dep.close()
    assert dependency.count == 3
    assert dep.record.retries == 2 and dep.record.failures == 1
    assert failed.value.name == "fake"


def test_connection_refused_fails_after_the_attempts(dependency):
    dependency.stop()
    dep = make_dependency(dependency)
    with pytest.raises(DependencyFailed, match="connection error"):
        dep.request("GET", "/thing")
    dep.close()


def test_answers_like_404_are_returned_not_retried(dependency):  # R6
    dependency.set("404")
    dep = make_dependency(dependency)
    assert dep.request("GET", "/thing").status_code == 404
    assert dependency.count == 1 and dep.breaker.state == State.CLOSED
    dep.close()


def test_a_post_is_not_retried_unless_marked_idempotent(dependency):  # R6
    dependency.set("503")
    dep = make_dependency(dependency)
    with pytest.raises(DependencyFailed):
        dep.request("POST", "/write", json={})
    assert dependency.count == 1
    dependency.reset_count()
    with pytest.raises(DependencyFailed):
        dep.request("POST", "/_search", json={}, idempotent=True)
    assert dependency.count == 3
    dep.close()


def test_retry_after_is_honoured(dependency):  # R5
    dependency.set("429")
    dependency.retry_after = "1"
    sleeps = Sleeps()
    dep = make_dependency(dependency, sleeps)
    with pytest.raises(DependencyFailed) as failed:
        dep.request("GET", "/thing")
    dep.close()
    assert sleeps.waits and all(wait >= 1 for wait in sleeps.waits)
    assert failed.value.retry_after_s == 1


def test_a_retry_after_above_the_wait_cap_is_never_waited_out_in_the_request(dependency):  # R5, issue 18
    dependency.set("429")
    dependency.retry_after = "2"  # DataJud's usual wish; the policy waits at most 1 s inside a request
    sleeps = Sleeps()
    dep = make_dependency(dependency, sleeps)
    with pytest.raises(DependencyFailed) as failed:
        dep.request("GET", "/thing")
    dep.close()
    assert dependency.count == 1 and sleeps.waits == []
    assert failed.value.retry_after_s == 2 and failed.value.status == 429


def test_a_retry_after_beyond_the_deadline_ends_the_call_at_once(dependency):  # R5, R4
    dependency.set("429")
    dependency.retry_after = "120"
    sleeps = Sleeps()
    dep = make_dependency(dependency, sleeps)
    started = time.perf_counter()
    with pytest.raises(DependencyFailed) as failed:
        dep.request("GET", "/thing")
    dep.close()
    assert dependency.count == 1 and sleeps.waits == []
    assert failed.value.retry_after_s == 120 and failed.value.status == 429
    assert time.perf_counter() - started < 1


def test_a_slow_upstream_is_cut_at_the_deadline(dependency):  # R4
    dependency.set("slow", delay=3)
    dep = make_dependency(dependency, retry=RetryPolicy(max_attempts=3, base_s=0.05, cap_s=0.1, deadline_s=1.5))
    started = time.perf_counter()
    with pytest.raises(DependencyFailed, match="timeout"):
        dep.request("GET", "/thing")
    elapsed = time.perf_counter() - started
    dep.close()
    # Cut at the deadline, long before the 3 s answer or three 3 s attempts; the margin is for a busy machine.
    assert elapsed < 2.5


def test_jittered_waits_stay_within_the_exponential_bounds(dependency):  # R3, in shape
    dependency.set("503")
    waits = []
    for _ in range(30):
        sleeps = Sleeps()
        dep = make_dependency(dependency, sleeps, breaker=BreakerConfig(minimum_calls=10_000))
        with pytest.raises(DependencyFailed):
            dep.request("GET", "/thing")
        dep.close()
        waits.append(sleeps.waits)
    firsts = [w[0] for w in waits]
    seconds = [w[1] for w in waits]
    assert all(0 <= w <= 0.05 * 2 for w in firsts) and all(0 <= w <= 0.05 * 4 for w in seconds)
    assert len(set(firsts)) > 20  # full jitter: spread, not one value


def test_once_the_breaker_opens_10000_calls_reach_nobody(dependency):  # B1; their cost: bench/resilience_bench.py
    dependency.set("503")
    dep = make_dependency(dependency, retry=RetryPolicy(max_attempts=1, deadline_s=5))
    for _ in range(5):
        with pytest.raises(DependencyFailed):
            dep.request("GET", "/thing")
    assert dep.breaker.state == State.OPEN
    before = dependency.count
    for _ in range(10_000):
        with pytest.raises(BreakerOpen):
            dep.request("GET", "/thing")
    dep.close()
    assert dependency.count == before


def test_nothing_is_retried_once_the_breaker_opens_mid_call(dependency):  # R2, per attempt
    dependency.set("503")
    dep = make_dependency(dependency, breaker=BreakerConfig(minimum_calls=2, open_s=30))
    with pytest.raises(BreakerOpen):
        dep.request("GET", "/thing")  # attempt 1 fails, attempt 2 fails and opens, attempt 3 is refused
    dep.close()
    assert dependency.count == 2


def test_the_retry_budget_prevents_a_retry_storm(dependency):  # R2
    dependency.set("503")
    dep = make_dependency(dependency, breaker=BreakerConfig(minimum_calls=1_000_000, consecutive_failures=0))
    for _ in range(100):
        with pytest.raises(DependencyFailed):
            dep.request("GET", "/thing")
    dep.close()
    retries = dependency.count - 100
    floor = 0.2 * 10  # floor_per_s x window
    assert retries <= 0.2 * 100 + floor + 1


def test_the_client_side_rate_limit_refuses_without_sending(dependency):
    dep = make_dependency(dependency, rate_per_min=6)  # one token, then one every 10 s
    dep.request("GET", "/thing")
    with pytest.raises(ClientRateLimited) as limited:
        dep.request("GET", "/thing")
    dep.close()
    assert dependency.count == 1
    assert limited.value.retry_after_s == pytest.approx(10, abs=0.5)


def test_every_attempt_is_logged_as_json(dependency, make_app, log_lines):
    make_app()
    dependency.set("503")
    dep = make_dependency(dependency)
    token = current_request_id.set("req-outbound-log1")
    with pytest.raises(DependencyFailed):
        dep.request("GET", "/thing?api_key=secret-value")
    current_request_id.reset(token)
    dep.close()
    attempts = [line for line in log_lines() if line["message"] == "outbound call"]
    assert [line["attempt"] for line in attempts] == [1, 2, 3]
    assert all(line["status"] == 503 and line["dependency"] == "fake" for line in attempts)
    assert all(line["request_id"] == "req-outbound-log1" for line in attempts)
    assert all("secret-value" not in line["url"] for line in attempts)
    retries = [line for line in log_lines() if line["message"] == "retrying outbound call"]
    assert len(retries) == 2 and all("delay_ms" in line for line in retries)


def test_retry_after_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_no_module_outside_services_imports_an_outbound_client():
    offenders = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in (".venv", "services", "tests", "bench", "migrations") or "site-packages" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name.split(".")[0] in ("httpx", "redis", "openai", "requests", "urllib3") for name in names):
                offenders.append(str(relative))
    assert offenders == []
