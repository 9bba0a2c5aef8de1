"""A circuit breaker with a time window, failure and slow-call rates, and bounded half-open trials.

Hand-written on purpose (DESIGN.md, research/resilience.md §9): no Python library offers a
time-based failure-rate window with a minimum volume, slow-call detection and a bounded number of
half-open trials without holding a lock around the protected call. Here the lock is held only to
decide permission and to record the outcome; calls run concurrently.

Besides the rate, `consecutive_failures` bad calls in a row open it at once: a source that starts failing
outright is cut off within a few calls, however many successes the window held before.

States: closed (calls flow, outcomes counted), open (calls rejected until `open_s` has passed),
half-open (up to `half_open_calls` trials at a time; `close_after` successes close it, one failure
opens it again), forced-open and disabled (set by an admin: reject everything / let everything
through uncounted).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from services.monitoring import metrics
from services.resilience.errors import DependencyUnavailable

log = logging.getLogger("portal.resilience")


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"


class BreakerOpen(DependencyUnavailable):
    """The dependency's breaker rejected the call: it failed fast, nothing was sent."""

    def __init__(self, name: str, retry_after_s: float):
        super().__init__(name, "circuit open", retry_after_s)


@dataclass(frozen=True)
class BreakerConfig:
    failure_rate: float = 0.5  # share of bad calls (failed or slow) in the window that opens the breaker
    minimum_calls: int = 5  # below this many calls in the window the rate is not judged
    window_s: int = 30
    slow_call_s: float = 10.0
    open_s: float = 30.0
    half_open_calls: int = 1  # trials admitted at the same time while half-open
    close_after: int = 2  # successful trials that close the breaker
    half_open_max_wait_s: float = 30.0  # a trial that has not reported by then counts as failed
    consecutive_failures: int = 5  # bad calls in a row that open the breaker whatever the rate (0: off)


class _Window:
    """Per-second buckets of (calls, bad calls) over the last `size` seconds."""

    def __init__(self, size: int):
        self.size = size
        self.calls = [0] * size
        self.bad = [0] * size
        self.seconds = [-1] * size

    def add(self, now: float, bad: bool) -> None:
        second = int(now)
        slot = second % self.size
        if self.seconds[slot] != second:
            self.seconds[slot], self.calls[slot], self.bad[slot] = second, 0, 0
        self.calls[slot] += 1
        self.bad[slot] += bad

    def totals(self, now: float) -> tuple[int, int]:
        oldest = int(now) - self.size + 1
        calls = bad = 0
        for slot in range(self.size):
            if self.seconds[slot] >= oldest:
                calls += self.calls[slot]
                bad += self.bad[slot]
        return calls, bad

    def clear(self) -> None:
        self.seconds = [-1] * self.size


class Permit:
    """Permission for one call; report its outcome exactly once with `success()` or `failure()`."""

    __slots__ = ("_breaker", "_done", "_epoch", "_started", "lease_token", "trial")

    def __init__(self, breaker: CircuitBreaker, trial: bool, epoch: int, started: float):
        self._breaker = breaker
        self.trial = trial
        self._epoch = epoch
        self._started = started
        self._done = False
        self.lease_token: str | None = None

    def success(self) -> None:
        self._finish(failed=False)

    def failure(self) -> None:
        self._finish(failed=True)

    def _finish(self, failed: bool) -> None:
        if not self._done:
            self._done = True
            self._breaker._record(self, failed)


Listener = Callable[["CircuitBreaker", State, State], None]


class TrialLease:
    """Decides whether this process may run a half-open trial; the shared one asks Redis (one prober)."""

    def acquire(self, name: str, ttl_s: float) -> str | None:
        return "local"

    def release(self, name: str, lease_id: str) -> None:
        return None


class CircuitBreaker:
    def __init__(self, name: str, config: BreakerConfig, clock: Callable[[], float] = time.monotonic,
                 on_transition: Listener | None = None):
        self.name = name
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._window = _Window(max(1, int(config.window_s)))
        self._state = State.CLOSED
        self._opened_at = 0.0
        self._open_for = config.open_s
        self._trials_running: dict[int, float] = {}  # id(permit) -> start time
        self._trial_successes = 0
        self._bad_in_a_row = 0
        self._epoch = 0  # bumped on every transition: late outcomes of an older state are ignored
        self._on_transition = on_transition
        self.trial_lease: TrialLease = TrialLease()
        self.rejected = 0  # calls refused while open, for metrics
        metrics.breaker_state(name, State.CLOSED.value, changed=False)

    # -- reading -------------------------------------------------------------------------------------
    @property
    def state(self) -> State:
        with self._lock:
            self._advance(self._clock())
            return self._state

    def retry_after_s(self) -> float:
        with self._lock:
            if self._state == State.OPEN:
                return max(0.0, self._opened_at + self._open_for - self._clock())
            return self._open_for if self._state == State.FORCED_OPEN else 0.0

    def snapshot(self) -> dict:
        with self._lock:
            now = self._clock()
            self._advance(now)
            calls, bad = self._window.totals(now)
            return {"name": self.name, "state": self._state.value, "calls_in_window": calls, "bad_in_window": bad,
                    "rejected": self.rejected, "retry_after_s": round(self._retry_after(now), 3)}

    # -- the call path -------------------------------------------------------------------------------
    def acquire(self) -> Permit:
        """Permission to call, or BreakerOpen at once (no I/O, microseconds)."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            state = self._state
            if state in (State.CLOSED, State.DISABLED):
                return Permit(self, trial=False, epoch=self._epoch, started=now)
            if state == State.HALF_OPEN and len(self._trials_running) < self.config.half_open_calls:
                permit = Permit(self, trial=True, epoch=self._epoch, started=now)
                self._trials_running[id(permit)] = now
            else:
                self.rejected += 1
                metrics.dependency_rejected(self.name)
                raise BreakerOpen(self.name, self._retry_after(now) or self.config.half_open_max_wait_s)
        # Outside the lock: the shared lease may ask Redis, and no call should wait on that.
        permit.lease_token = self.trial_lease.acquire(self.name, self.config.half_open_max_wait_s)
        if permit.lease_token is None:
            with self._lock:
                self._trials_running.pop(id(permit), None)
                self.rejected += 1
            metrics.dependency_rejected(self.name)
            raise BreakerOpen(self.name, self.config.half_open_max_wait_s)
        return permit

    def _record(self, permit: Permit, failed: bool) -> None:
        with self._lock:
            self._record_locked(permit, failed, self._clock())
        if permit.lease_token:
            self.trial_lease.release(self.name, permit.lease_token)

    def _record_locked(self, permit: Permit, failed: bool, now: float) -> None:
        if permit._epoch != self._epoch or self._state == State.DISABLED:
            return  # the breaker changed state since this call started: its outcome is old news
        bad = failed or now - permit._started >= self.config.slow_call_s
        if permit.trial:
            self._trials_running.pop(id(permit), None)
            if bad:
                self._transition(State.OPEN, now, backoff=True)
            else:
                self._trial_successes += 1
                if self._trial_successes >= self.config.close_after:
                    self._transition(State.CLOSED, now)
            return
        if self._state != State.CLOSED:
            return
        self._window.add(now, bad)
        self._bad_in_a_row = self._bad_in_a_row + 1 if bad else 0
        calls, bad_calls = self._window.totals(now)
        if calls >= self.config.minimum_calls and bad_calls / calls >= self.config.failure_rate:
            self._transition(State.OPEN, now)
        elif 0 < self.config.consecutive_failures <= self._bad_in_a_row:
            log.warning("circuit breaker tripped by failures in a row",
                        extra={"dependency": self.name, "failures_in_a_row": self._bad_in_a_row})
            self._transition(State.OPEN, now)

    # -- admin and shared state -------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._open_for = self.config.open_s
            self._transition(State.CLOSED, self._clock())

    def force_open(self) -> None:
        with self._lock:
            self._transition(State.FORCED_OPEN, self._clock())

    def disable(self) -> None:
        with self._lock:
            self._transition(State.DISABLED, self._clock())

    def open_until(self, remaining_s: float) -> None:
        """Adopt another worker's open state: reject calls for `remaining_s` (it tripped first)."""
        with self._lock:
            if self._state in (State.CLOSED, State.HALF_OPEN) and remaining_s > 0:
                now = self._clock()
                self._transition(State.OPEN, now, notify=False)
                self._open_for = remaining_s

    # -- internals (lock held) ------------------------------------------------------------------
    def _retry_after(self, now: float) -> float:
        if self._state == State.OPEN:
            return max(0.0, self._opened_at + self._open_for - now)
        return 0.0

    def _advance(self, now: float) -> None:
        if self._state == State.OPEN and now - self._opened_at >= self._open_for:
            self._transition(State.HALF_OPEN, now)
        elif self._state == State.HALF_OPEN:
            hung = [key for key, started in self._trials_running.items()
                    if now - started >= self.config.half_open_max_wait_s]
            if hung:
                self._transition(State.OPEN, now, backoff=True)

    def _transition(self, new: State, now: float, backoff: bool = False, notify: bool = True) -> None:
        old = self._state
        self._epoch += 1
        self._trials_running.clear()
        self._trial_successes = 0
        self._bad_in_a_row = 0
        if new == State.OPEN:
            # A failed trial doubles the open period (bounded), so a dead upstream is probed less often.
            self._open_for = min(self._open_for * 2, self.config.open_s * 8) if backoff else self.config.open_s
            self._opened_at = now
        elif new == State.CLOSED:
            self._window.clear()
            self._open_for = self.config.open_s
        self._state = new
        if old != new:
            log.warning("circuit breaker state change",
                        extra={"dependency": self.name, "from_state": old.value, "to_state": new.value})
            metrics.breaker_state(self.name, new.value)
            if notify and self._on_transition:
                self._on_transition(self, old, new)
