"""The in-process runner: the same job functions, without Redis, on threads of this process.

One thread per queue (started on the first job of that queue), so a long sync never delays a monitoring sample.
Each job runs inside an app context; a failure is retried after the waits of its Retry, then kept in a short list
of failures (what the panel shows in this mode). `depends_on` waits for the other job and runs only if it
succeeded, as in RQ. A timeout cannot stop a Python thread: here it is only logged when exceeded.
"eager" mode uses `run_now`: the job runs in the caller, retries without waiting (tests and scripts).
"""
from __future__ import annotations

import collections
import logging
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from services.jobs import schedule

log = logging.getLogger("portal.jobs")
FAILURES_KEPT = 50


@dataclass
class LocalJob:
    id: str
    func: str
    args: tuple
    kwargs: dict
    queue: str
    retry: tuple[int, tuple[int, ...]] | None
    timeout_s: int | None
    enqueued_at: float = field(default_factory=time.time)
    future: Future | None = None
    status: str = "queued"
    result: object = None


class LocalRunner:
    def __init__(self, app):
        self.app = app
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.pending: dict[str, list[LocalJob]] = collections.defaultdict(list)
        self.running: dict[str, LocalJob] = {}
        self.failed: collections.deque[dict] = collections.deque(maxlen=FAILURES_KEPT)

    def submit(self, job: LocalJob, depends_on: LocalJob | None = None) -> LocalJob:
        with self._lock:
            executor = self._executors.get(job.queue)
            if executor is None:
                executor = ThreadPoolExecutor(1, thread_name_prefix=f"portal-jobs-{job.queue}")
                self._executors[job.queue] = executor
            self.pending[job.queue].append(job)
        job.future = executor.submit(self._run_queued, job, depends_on)
        return job

    def _run_queued(self, job: LocalJob, depends_on: LocalJob | None) -> object:
        with self._lock:
            self.pending[job.queue].remove(job)
            self.running[job.queue] = job
        try:
            if depends_on is not None and depends_on.future is not None:
                try:
                    depends_on.future.result()
                except Exception:
                    job.status = "canceled"
                    log.warning("job not run: its dependency failed", extra={"job": job.func})
                    return None
                if depends_on.status != "finished":
                    job.status = "canceled"
                    return None
            with self.app.app_context():
                return self.run_now(job, wait=True)
        finally:
            with self._lock:
                self.running.pop(job.queue, None)

    def run_now(self, job: LocalJob, wait: bool = False) -> object:
        """Run `job` here and now with its retries (waiting between them only when `wait`); never raises."""
        func = schedule.resolve(job.func)
        retries, waits = job.retry or (0, ())
        for attempt in range(retries + 1):
            started = time.monotonic()
            try:
                job.status = "started"
                job.result = func(*job.args, **job.kwargs)
                job.status = "finished"
                return job.result
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:1000]
                log.warning("job failed", exc_info=True,
                            extra={"job": job.func, "attempt": attempt + 1, "queue": job.queue})
                if attempt == retries:
                    job.status = "failed"
                    self.failed.appendleft({"id": job.id, "func": job.func, "queue": job.queue, "error": error,
                                            "ended_at": time.time(), "attempts": attempt + 1})
                    return None
                if wait and waits and self._stop.wait(waits[min(attempt, len(waits) - 1)]):
                    return None
            finally:
                took = time.monotonic() - started
                if job.timeout_s and took > job.timeout_s:
                    log.warning("job ran past its timeout (in-process jobs cannot be stopped)",
                                extra={"job": job.func, "duration_s": round(took, 1), "timeout_s": job.timeout_s})
        return None

    def queue_figures(self) -> dict[str, dict]:
        now = time.time()
        with self._lock:
            return {name: {"length": len(self.pending.get(name, [])),
                           "oldest_age_s": round(now - self.pending[name][0].enqueued_at, 1)
                           if self.pending.get(name) else None,
                           "current": self.running[name].func if name in self.running else None}
                    for name in schedule.QUEUES}

    def stop(self) -> None:
        self._stop.set()
        for executor in list(self._executors.values()):
            executor.shutdown(wait=False, cancel_futures=True)


def new_job(func: str, args, kwargs, queue: str, retry, timeout_s) -> LocalJob:
    return LocalJob(id=f"local-{secrets.token_hex(8)}", func=func, args=tuple(args), kwargs=dict(kwargs),
                    queue=queue, retry=retry, timeout_s=timeout_s)
