"""A bulkhead: at most `max_concurrent` calls to one dependency at a time in this process.

resilience4j's semaphore Bulkhead is the model: past the cap a call waits at most `max_wait_s` (a fraction of a
second, so a burst against a healthy upstream queues briefly instead of failing) and is then refused
(BulkheadFull, nothing sent). It waits only while the upstream is answering: when the oldest running call has
been at it for more than STALLED_AFTER waits, no slot is coming soon and the call is refused at once, since a
wait holds a request thread too. A slow upstream can so hold only part of a worker's threads, and the rest keep
serving pages. A refusal is not the upstream's fault: it does not count in the breaker, and the
caller answers as for any unavailable source (the stored copy with its age, or a 503 with Retry-After).
"""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from services.monitoring import metrics
from services.resilience.errors import DependencyUnavailable

STALLED_AFTER = 4  # running calls older than this many `max_wait_s` mean the upstream is stalling: do not wait


class BulkheadFull(DependencyUnavailable):
    """Every slot of the dependency's bulkhead is taken in this process: refused at once, nothing was sent."""

    def __init__(self, name: str, max_concurrent: int, retry_after_s: float):
        super().__init__(name, f"{max_concurrent} calls already running (bulkhead full)", retry_after_s)


class Bulkhead:
    """A counting gate with a short wait: `with bulkhead.slot():` runs the call or raises BulkheadFull."""

    def __init__(self, name: str, max_concurrent: int, retry_after_s: float, max_wait_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic):
        if max_concurrent < 1:
            raise ValueError(f"a bulkhead needs at least one slot, got {max_concurrent}")
        self.name = name
        self.max_concurrent = max_concurrent
        self.retry_after_s = retry_after_s  # the longest a running call may still take: its deadline
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._freed = threading.Condition(threading.Lock())
        self._running: dict[int, float] = {}  # call number -> when it took its slot
        self._numbers = itertools.count()
        self.in_use = 0
        self.rejected = 0  # refusals in this process, for the snapshot; Prometheus has the server's total

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._freed:
            admitted = self._has_room() or (self._answering()
                                            and self._freed.wait_for(self._has_room, timeout=self.max_wait_s))
            if admitted:
                self.in_use += 1
                number = next(self._numbers)
                self._running[number] = self._clock()
            else:
                self.rejected += 1
        if not admitted:
            metrics.bulkhead_rejected(self.name)
            raise BulkheadFull(self.name, self.max_concurrent, self.retry_after_s)
        try:
            yield
        finally:
            with self._freed:
                self.in_use -= 1
                del self._running[number]
                self._freed.notify()

    def _has_room(self) -> bool:
        return self.in_use < self.max_concurrent

    def _answering(self) -> bool:
        """Worth waiting: the oldest running call is young enough that slots are turning over (lock held)."""
        if self.max_wait_s <= 0 or not self._running:
            return self.max_wait_s > 0
        return self._clock() - min(self._running.values()) < STALLED_AFTER * self.max_wait_s

    def snapshot(self) -> dict:
        with self._freed:
            return {"max_concurrent": self.max_concurrent, "in_use": self.in_use, "rejected": self.rejected}
