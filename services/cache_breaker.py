"""The cache's breaker in front of Redis: when to stop asking it, and when to try it again.

A few failures in a row (or one after a long quiet) mark Redis down for this process; calls then go to the memory
tier at once, and after a cool-off one caller probes Redis while the others keep using memory. The first
success marks it up again. Each process judges for itself: nothing here is shared.
"""
from __future__ import annotations

import threading
import time

SKIP, USE, PROBE = 0, 1, 2


class RedisBreaker:
    """Whether to try Redis at all.

    Redis is marked down after 3 consecutive failed operations, or after any failure when the last
    success is more than 1 s old (so a quiet process does not pay three timeouts). While down, every
    operation skips Redis; after a cool-off (1 s, doubling on each failed probe up to 5 s) exactly
    one operation probes it, and its success marks Redis up again.
    """

    FAILURES = 3
    SUCCESS_MAX_AGE_S = 1.0
    COOL_OFF_S = 1.0
    MAX_COOL_OFF_S = 5.0

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.up = True
        self.down_since = 0.0
        self.last_outage_s = 0.0
        self._failures = 0
        self._last_success = float("-inf")
        self._cool_off = self.COOL_OFF_S
        self._retry_at = 0.0
        self._probing = False

    def allow(self) -> int:
        if self.up:  # the hot path reads one attribute; transitions happen under the lock
            return USE
        with self._lock:
            if self.up:
                return USE
            if self._probing or self._clock() < self._retry_at:
                return SKIP
            self._probing = True
            return PROBE

    def succeeded(self, mode: int) -> bool:
        """Record a success; True when it brought Redis back up."""
        now = self._clock()
        with self._lock:
            if mode == PROBE:
                self.up, self._probing, self._cool_off = True, False, self.COOL_OFF_S
                self.last_outage_s = now - self.down_since
            elif not self.up:
                return False  # a call that started before Redis was marked down
            self._failures, self._last_success = 0, now
            return mode == PROBE

    def failed(self, mode: int) -> bool:
        """Record a failure; True when it marked Redis down."""
        now = self._clock()
        with self._lock:
            if mode == PROBE:
                self._probing = False
                self._cool_off = min(self._cool_off * 2, self.MAX_COOL_OFF_S)
                self._retry_at = now + self._cool_off
                return False
            if not self.up:
                return False
            self._failures += 1
            if self._failures < self.FAILURES and now - self._last_success <= self.SUCCESS_MAX_AGE_S:
                return False
            self.up, self.down_since, self._retry_at = False, now, now + self._cool_off
            return True
