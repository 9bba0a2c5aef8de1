"""Retries: tenacity with full jitter, a deadline, Retry-After, and a retry budget per dependency."""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_s: float = 0.2  # full jitter: attempt n waits uniform(0, min(cap, base * 2**n))
    cap_s: float = 2.0
    deadline_s: float = 15.0  # the whole call, every attempt and wait included
    # The longest Retry-After a request thread waits out; a server asking for more ends the call at once,
    # its wish passed on (the person gets the stored copy or a 503 with Retry-After, not a held thread).
    max_retry_after_s: float = 1.0


class RetryBudget:
    """Retries may not exceed `percent` of first attempts over `window_s`, plus a small floor.

    tenacity has no such notion; without it an outage turns every call into max_attempts calls
    (a retry storm). Shared by all calls to one dependency within this process.
    """

    def __init__(self, percent: float = 0.2, floor_per_s: float = 0.2, window_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.percent = percent
        self.floor = floor_per_s * window_s
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: deque[float] = deque()
        self._retries: deque[float] = deque()

    def _prune(self, now: float) -> None:
        horizon = now - self.window_s
        for queue in (self._calls, self._retries):
            while queue and queue[0] < horizon:
                queue.popleft()

    def record_call(self) -> None:
        with self._lock:
            now = self._clock()
            self._prune(now)
            self._calls.append(now)

    def try_spend(self) -> bool:
        with self._lock:
            now = self._clock()
            self._prune(now)
            if len(self._retries) < self.percent * len(self._calls) + self.floor:
                self._retries.append(now)
                return True
            return False


class Retryable(Exception):
    """One attempt failed in a way worth another try; `retry_after_s` is the server's wish, if any."""

    def __init__(self, reason: str, status: int | None = None, retry_after_s: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after_s = retry_after_s


def _wait_with_retry_after(policy: RetryPolicy):
    jitter = wait_random_exponential(multiplier=policy.base_s, max=policy.cap_s)

    def wait(state: RetryCallState) -> float:
        backoff = jitter(state)
        error = state.outcome.exception() if state.outcome else None
        server_wish = getattr(error, "retry_after_s", None)
        return max(backoff, server_wish) if server_wish else backoff

    return wait


def retrying(policy: RetryPolicy, budget: RetryBudget, before_sleep: Callable[[RetryCallState], None],
             sleep: Callable[[float], None] = time.sleep) -> Retrying:
    """A tenacity loop: retry only `Retryable`, stop at max attempts, at the deadline (a wait that
    would cross it ends the call at once, Retry-After included), when the server asks for a longer
    wait than `max_retry_after_s` or when the budget is spent (checked last, so it is spent only on a
    retry that happens)."""

    def server_wait_too_long(state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        wish = getattr(error, "retry_after_s", None)
        return wish is not None and wish > policy.max_retry_after_s

    def budget_spent(state: RetryCallState) -> bool:
        return not budget.try_spend()

    return Retrying(
        retry=retry_if_exception(lambda error: isinstance(error, Retryable)),
        stop=stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.deadline_s) | server_wait_too_long
        | budget_spent,
        wait=_wait_with_retry_after(policy),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )


def parse_retry_after(headers) -> float | None:
    """Seconds from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
