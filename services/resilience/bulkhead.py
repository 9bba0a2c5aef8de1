"""A bulkhead: at most `max_concurrent` calls to one dependency at a time in this process.

resilience4j's semaphore Bulkhead is the model: past the cap a call waits at most `max_wait_s` (a fraction of a
second, so a burst against a healthy upstream queues briefly instead of failing) and is then refused
(BulkheadFull, nothing sent). A slow upstream can so hold only part of a worker's threads, and the rest keep
serving pages. A refusal is not the upstream's fault: it does not count in the breaker, and the
caller answers as for any unavailable source (the stored copy with its age, or a 503 with Retry-After).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from services.monitoring import metrics
from services.resilience.errors import DependencyUnavailable


class BulkheadFull(DependencyUnavailable):
    """Every slot of the dependency's bulkhead is taken in this process: refused at once, nothing was sent."""

    def __init__(self, name: str, max_concurrent: int, retry_after_s: float):
        super().__init__(name, f"{max_concurrent} calls already running (bulkhead full)", retry_after_s)


class Bulkhead:
    """A counting gate with a short wait: `with bulkhead.slot():` runs the call or raises BulkheadFull."""

    def __init__(self, name: str, max_concurrent: int, retry_after_s: float, max_wait_s: float = 0.0):
        if max_concurrent < 1:
            raise ValueError(f"a bulkhead needs at least one slot, got {max_concurrent}")
        self.name = name
        self.max_concurrent = max_concurrent
        self.retry_after_s = retry_after_s  # the longest a running call may still take: its deadline
        self.max_wait_s = max_wait_s
        self._freed = threading.Condition(threading.Lock())
        self.in_use = 0
        self.rejected = 0  # refusals in this process, for the snapshot; Prometheus has the server's total

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._freed:
            admitted = self._freed.wait_for(lambda: self.in_use < self.max_concurrent, timeout=self.max_wait_s)
            if admitted:
                self.in_use += 1
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
                self._freed.notify()

    def snapshot(self) -> dict:
        with self._freed:
            return {"max_concurrent": self.max_concurrent, "in_use": self.in_use, "rejected": self.rejected}
