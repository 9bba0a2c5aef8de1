"""A bulkhead: at most `max_concurrent` calls to one dependency at a time in this process.

resilience4j's semaphore Bulkhead with a zero wait is the model: past the cap a call is refused at once
(BulkheadFull, nothing sent), so a slow upstream can hold only part of a worker's threads and the rest
keep serving pages. A refusal is not the upstream's fault: it does not count in the breaker, and the
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
    """A counting gate, not a queue: `with bulkhead.slot():` runs the call or raises BulkheadFull."""

    def __init__(self, name: str, max_concurrent: int, retry_after_s: float):
        if max_concurrent < 1:
            raise ValueError(f"a bulkhead needs at least one slot, got {max_concurrent}")
        self.name = name
        self.max_concurrent = max_concurrent
        self.retry_after_s = retry_after_s  # the longest a running call may still take: its deadline
        self._lock = threading.Lock()
        self.in_use = 0
        self.rejected = 0  # refusals in this process, for the snapshot; Prometheus has the server's total

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self.in_use >= self.max_concurrent:
                self.rejected += 1
                full = True
            else:
                self.in_use += 1
                full = False
        if full:
            metrics.bulkhead_rejected(self.name)
            raise BulkheadFull(self.name, self.max_concurrent, self.retry_after_s)
        try:
            yield
        finally:
            with self._lock:
                self.in_use -= 1

    def snapshot(self) -> dict:
        with self._lock:
            return {"max_concurrent": self.max_concurrent, "in_use": self.in_use, "rejected": self.rejected}
