"""The circuit breaker's rules, on a controllable clock (research/resilience.md §8.1)."""
import threading

import pytest

from services.resilience.breaker import BreakerConfig, BreakerOpen, CircuitBreaker, State, TrialLease


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


CONFIG = BreakerConfig(failure_rate=0.5, minimum_calls=5, window_s=30, slow_call_s=2.0, open_s=30,
                       half_open_calls=1, close_after=2, half_open_max_wait_s=10)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def breaker(clock):
    return CircuitBreaker("dependency", CONFIG, clock=clock)


def call(breaker, clock, failed=False, duration=0.0):
    permit = breaker.acquire()
    clock.advance(duration)
    permit.failure() if failed else permit.success()


def trip(breaker, clock):
    for _ in range(5):
        call(breaker, clock, failed=True)
    assert breaker.state == State.OPEN


def test_no_trip_below_minimum_volume(breaker, clock):  # B3
    for _ in range(4):
        call(breaker, clock, failed=True)
    assert breaker.state == State.CLOSED


def test_trips_on_rate_with_interleaved_failures(breaker, clock):  # B4: consecutive counting never would
    for failed in (True, False, True, False, False):
        call(breaker, clock, failed=failed)
    assert breaker.state == State.CLOSED  # 2 of 5
    call(breaker, clock, failed=True)
    assert breaker.state == State.OPEN  # 3 of 6 = 50 %


def test_old_failures_leave_the_window(breaker, clock):
    for _ in range(4):
        call(breaker, clock, failed=True)
    clock.advance(31)
    for _ in range(4):
        call(breaker, clock)
    call(breaker, clock, failed=True)
    assert breaker.state == State.CLOSED


def test_slow_calls_trip_without_errors(breaker, clock):  # B5
    for _ in range(5):
        call(breaker, clock, duration=2.5)
    assert breaker.state == State.OPEN


def test_answers_such_as_404_are_successes(breaker, clock):  # B6: the caller reports them as success
    for _ in range(2):
        call(breaker, clock, failed=True)
    for _ in range(1000):
        call(breaker, clock)
    assert breaker.state == State.CLOSED


def test_open_rejects_and_counts(breaker, clock):  # B1; how fast: bench/resilience_bench.py
    trip(breaker, clock)
    for _ in range(10_000):
        with pytest.raises(BreakerOpen) as rejected:
            breaker.acquire()
    assert breaker.rejected == 10_000
    assert rejected.value.retry_after_s == pytest.approx(30)


def test_half_open_admits_one_trial_and_closes_after_two_successes(breaker, clock):  # B7, B9
    trip(breaker, clock)
    clock.advance(30)
    assert breaker.state == State.HALF_OPEN
    trial = breaker.acquire()
    assert trial.trial
    with pytest.raises(BreakerOpen):
        breaker.acquire()  # only one trial at a time
    trial.success()
    breaker.acquire().success()
    assert breaker.state == State.CLOSED


def test_failed_trial_reopens_for_longer(breaker, clock):
    trip(breaker, clock)
    clock.advance(30)
    breaker.acquire().failure()
    assert breaker.state == State.OPEN
    clock.advance(30)
    assert breaker.state == State.OPEN  # the open period doubled after a failed trial
    clock.advance(30)
    assert breaker.state == State.HALF_OPEN


def test_a_hung_trial_returns_the_breaker_to_open(breaker, clock):  # B8
    trip(breaker, clock)
    clock.advance(30)
    hung = breaker.acquire()
    clock.advance(10)
    assert breaker.state == State.OPEN
    hung.success()  # reported too late: ignored
    assert breaker.state == State.OPEN


def test_admin_states(breaker, clock):
    for _ in range(4):  # a window nearly full of failures: a reset must clear it
        call(breaker, clock, failed=True)
    breaker.force_open()
    with pytest.raises(BreakerOpen):
        breaker.acquire()
    breaker.disable()
    for _ in range(20):
        call(breaker, clock, failed=True)
    assert breaker.state == State.DISABLED
    breaker.reset()
    assert breaker.state == State.CLOSED
    call(breaker, clock, failed=True)
    assert breaker.state == State.CLOSED  # the failures before the reset no longer count
    assert breaker.snapshot()["calls_in_window"] == 1


def test_a_remote_open_is_adopted_until_its_end(breaker, clock):
    breaker.open_until(5)
    with pytest.raises(BreakerOpen) as rejected:
        breaker.acquire()
    assert rejected.value.retry_after_s == pytest.approx(5)
    clock.advance(5)
    assert breaker.state == State.HALF_OPEN


def test_a_refused_trial_lease_fails_fast(breaker, clock):
    class Taken(TrialLease):
        def acquire(self, name, ttl_s):
            return None

    trip(breaker, clock)
    clock.advance(30)
    breaker.trial_lease = Taken()
    with pytest.raises(BreakerOpen):
        breaker.acquire()
    breaker.trial_lease = TrialLease()
    assert breaker.acquire().trial  # the slot was given back


def test_calls_run_concurrently_not_under_a_lock():  # B12
    breaker = CircuitBreaker("slow", CONFIG)
    barrier = threading.Barrier(8, timeout=5)

    def guarded():
        permit = breaker.acquire()
        barrier.wait()  # all eight are inside the protected section at once
        permit.success()

    threads = [threading.Thread(target=guarded) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert not barrier.broken
    assert breaker.state == State.CLOSED


def test_every_transition_is_logged_once(breaker, clock, make_app, log_lines):
    make_app()  # installs the JSON log handler
    trip(breaker, clock)
    clock.advance(30)
    breaker.state  # noqa: B018 - reading it moves the breaker to half-open
    changes = [(line["from_state"], line["to_state"]) for line in log_lines()
               if line["message"] == "circuit breaker state change"]
    assert changes == [("closed", "open"), ("open", "half_open")]


def test_failures_in_a_row_trip_whatever_the_successes_before(breaker, clock):  # issue 18: cut off within 2 s
    for _ in range(200):
        call(breaker, clock)
    clock.advance(1)
    for _ in range(4):
        call(breaker, clock, failed=True)
    assert breaker.state == State.CLOSED  # 4 of 204: the rate alone would wait for ~200 more failures
    call(breaker, clock, failed=True)
    assert breaker.state == State.OPEN


def test_a_success_breaks_the_run_of_failures(breaker, clock):
    for _ in range(30):
        call(breaker, clock)
    for _ in range(3):
        for _ in range(4):
            call(breaker, clock, failed=True)
        call(breaker, clock)
    assert breaker.state == State.CLOSED  # 12 of 45, never 5 in a row


def test_slow_calls_in_a_row_count_as_failures_in_a_row(breaker, clock):
    for _ in range(50):
        call(breaker, clock)
    for _ in range(5):
        call(breaker, clock, duration=2.5)
    assert breaker.state == State.OPEN


def test_failures_in_a_row_can_be_turned_off(clock):
    breaker = CircuitBreaker("dependency", BreakerConfig(**{**CONFIG.__dict__, "consecutive_failures": 0}), clock=clock)
    for _ in range(100):
        call(breaker, clock)
    for _ in range(20):
        call(breaker, clock, failed=True)
    assert breaker.state == State.CLOSED


def test_the_run_starts_again_after_the_breaker_closes(breaker, clock):
    trip(breaker, clock)
    clock.advance(30)
    call(breaker, clock)
    call(breaker, clock)
    assert breaker.state == State.CLOSED
    for _ in range(20):
        call(breaker, clock)
    for _ in range(4):
        call(breaker, clock, failed=True)
    assert breaker.state == State.CLOSED
