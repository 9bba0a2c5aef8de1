"""The job engine of one process: which mode runs, enqueueing in each mode, and the periodic runs' records.

Modes (JOBS_MODE, "auto" by default):
- "rq": REDIS_URL is set. Jobs go to RQ queues `{REDIS_KEY_PREFIX}high|default|low` (JSON serializer, never
  pickle); `make worker` (flask jobs worker) runs them and the schedule. A serving process runs no thread for them.
  While Redis refuses an enqueue, the job runs on this process's in-process runner instead (the house rule: no
  request fails because Redis is down), with a warning.
- "inprocess": no Redis. Each serving process runs the schedule on a thread and the jobs on one thread per queue
  (services.jobs.local); slots are claimed in a file beside the SQLite database, so one process runs each.
- "eager": the job runs in the caller at once (auto under tests; a test may ask for "rq" or "inprocess").
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import redis
from flask import current_app

from services import redis_connection
from services.jobs import local, schedule
from services.jobs.state import FileState, MemoryState, RedisState

log = logging.getLogger("portal.jobs")
DEFAULT_TIMEOUT_S = 600
RESULT_TTL_S = 86400
FAILURE_TTL_S = 30 * 86400
WORKER_REDIS_TIMEOUT_S = 60  # above the worker's blocking dequeue (worker_ttl 60 - 15 s)
WORKER_TTL_S = 60


@dataclass
class JobRef:
    """What `enqueue` returns: the job's id and queue, and where it runs."""
    id: str
    queue: str
    mode: str
    local: local.LocalJob | None = None

    @property
    def status(self) -> str | None:
        """The job's status in the in-process modes ("queued", "started", "finished", "failed", "canceled")."""
        return self.local.status if self.local else None


def resolve_mode(config, testing: bool) -> str:
    mode = config.get("JOBS_MODE", "auto")
    if mode == "auto":
        mode = "eager" if testing else ("rq" if config.get("REDIS_URL") else "inprocess")
    if mode == "rq" and not config.get("REDIS_URL"):
        log.warning("JOBS_MODE=rq needs REDIS_URL; running jobs in-process")
        mode = "inprocess"
    return mode


def _state_for(app, mode: str, client):
    if mode == "rq":
        return RedisState(client, app.config["CACHE_KEY_PREFIX"])
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and not uri.endswith(":memory:"):
        return FileState(f"{uri.removeprefix('sqlite:///')}.jobs-state.json")
    if uri.startswith("sqlite"):
        return MemoryState()
    return FileState(os.path.join(app.instance_path, "jobs-state.json"))


class Engine:
    def __init__(self, app):
        self.app = app
        self.mode = resolve_mode(app.config, app.testing)
        self.prefix = app.config["CACHE_KEY_PREFIX"]
        self.redis = redis_connection.client(app) if self.mode == "rq" else None
        self.state = _state_for(app, self.mode, self.redis)
        self.local = local.LocalRunner(app)
        self._queues: dict[str, object] = {}

    # -- RQ objects ------------------------------------------------------------------------------------------
    def queue_name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def queue(self, name: str, connection=None):
        from rq import Queue
        from rq.serializers import JSONSerializer

        if name not in schedule.QUEUES:
            raise ValueError(f"unknown queue {name!r}; queues: {', '.join(schedule.QUEUES)}")
        if connection is not None:
            return Queue(self.queue_name(name), connection=connection, serializer=JSONSerializer)
        if name not in self._queues:
            self._queues[name] = Queue(self.queue_name(name), connection=self.redis, serializer=JSONSerializer)
        return self._queues[name]

    def worker_connection(self):
        """A client for workers and schedulers: it may wait on a blocking dequeue longer than a request would."""
        return redis_connection.connect(self.app.config["REDIS_URL"], WORKER_REDIS_TIMEOUT_S)

    # -- enqueue ---------------------------------------------------------------------------------------------
    def enqueue(self, func, args: tuple, kwargs: dict, *, queue: str = "default", retry=None,
                timeout: int | None = None, depends_on: JobRef | str | None = None, job_id: str | None = None,
                description: str | None = None) -> JobRef:
        if queue not in schedule.QUEUES:
            raise ValueError(f"unknown queue {queue!r}; queues: {', '.join(schedule.QUEUES)}")
        reference = schedule.reference(func)
        retry = _retry_tuple(retry)
        timeout = timeout or DEFAULT_TIMEOUT_S
        json.dumps([args, kwargs])  # a job's arguments are JSON (no pickle): fail here, not in the worker
        if self.mode == "rq":
            try:
                return self._enqueue_rq(reference, args, kwargs, queue, retry, timeout, depends_on, job_id,
                                        description)
            except redis.RedisError as exc:
                log.warning("jobs: Redis refused the job; running it in this process",
                            extra={"job": reference, "reason": type(exc).__name__})
        job = local.new_job(reference, args, kwargs, queue, retry, timeout)
        dependency = depends_on.local if isinstance(depends_on, JobRef) else None
        if self.mode == "eager":
            if dependency is None or dependency.status == "finished":
                self.local.run_now(job)
            else:
                job.status = "canceled"
            return JobRef(job.id, queue, "eager", job)
        self.local.submit(job, dependency)
        return JobRef(job.id, queue, "inprocess", job)

    def _enqueue_rq(self, reference, args, kwargs, queue, retry, timeout, depends_on, job_id, description, *,
                    unique: bool = False, result_ttl: int = RESULT_TTL_S) -> JobRef:
        from rq import Retry

        dependency = depends_on.id if isinstance(depends_on, JobRef) else depends_on
        job = self.queue(queue).enqueue_call(
            func=reference.replace(":", "."), args=list(args), kwargs=kwargs, timeout=timeout,
            result_ttl=result_ttl, failure_ttl=FAILURE_TTL_S, description=description or reference,
            depends_on=dependency, job_id=job_id, unique=unique,
            retry=Retry(max=retry[0], interval=list(retry[1]) or 0) if retry else None)
        return JobRef(job.id, queue, "rq")

    def wait(self, ref: JobRef, timeout_s: float) -> tuple[str, object]:
        """Wait at most `timeout_s` for a job: ("finished", its result), ("failed", None) once it failed for good,
        or ("pending", None) while it still waits or runs. For a caller that would rather answer with the
        result (a staff "atualizar agora") than say "pedido em segundo plano"."""
        if ref.local is not None:
            if ref.local.future is not None:
                try:
                    ref.local.future.result(timeout=timeout_s)
                except FutureTimeout:
                    return "pending", None
            status = ref.local.status
            return ("finished", ref.local.result) if status == "finished" else (
                ("failed", None) if status in ("failed", "canceled") else ("pending", None))
        from rq.job import Job, JobStatus
        from rq.serializers import JSONSerializer

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                job = Job.fetch(ref.id, connection=self.redis, serializer=JSONSerializer)
                status = job.get_status(refresh=False)
            except Exception as exc:  # Redis gone or the job expired: the caller says "in the background"
                log.warning("jobs: cannot read a job's status", extra={"reason": type(exc).__name__})
                return "pending", None
            if status == JobStatus.FINISHED:
                return "finished", job.return_value()
            if status in (JobStatus.FAILED, JobStatus.CANCELED, JobStatus.STOPPED):
                return "failed", None
            if time.monotonic() >= deadline:
                return "pending", None
            time.sleep(0.05)

    def enqueue_periodic(self, periodic: schedule.Periodic, slot: int | None,
                         trigger: str = "schedule") -> JobRef | None:
        """One run of a periodic job; None when its slot is already taken.

        A slot's run has one id for the deployment, the job and the slot. With RQ the enqueue is the claim: one Lua
        script (RQ's unique enqueue) checks that no job has the id, saves the job and queues it, so two schedulers
        never both run a slot and a scheduler killed half-way never loses one. The job is kept past its slot, so a
        finished run still holds the slot. Without Redis the slot is claimed in the file (or memory) state first.
        A Redis error goes to the caller: a slot is never run here instead, where every scheduler would run it."""
        args = (periodic.name, slot, trigger)
        description = f"periodic {periodic.name}"
        if slot is None:
            return self.enqueue(run_periodic, args, {}, queue=periodic.queue, retry=periodic.retry,
                                timeout=periodic.timeout_s, description=description)
        # RQ allows letters, digits, "_" and "-" in an id.
        job_id = re.sub(r"[^A-Za-z0-9_-]", "_", f"{self.prefix}periodic-{periodic.name}-{slot}")
        if self.mode == "rq":
            from rq.exceptions import DuplicateJobError

            kept_s = max(RESULT_TTL_S, 2 * periodic.interval_s(self.app.config))
            try:
                return self._enqueue_rq(schedule.reference(run_periodic), args, {}, periodic.queue,
                                        _retry_tuple(periodic.retry), periodic.timeout_s, None, job_id, description,
                                        unique=True, result_ttl=kept_s)
            except DuplicateJobError:
                return None
        if not self.state.claim(periodic.name, slot):
            return None
        return self.enqueue(run_periodic, args, {}, queue=periodic.queue, retry=periodic.retry,
                            timeout=periodic.timeout_s, job_id=job_id, description=description)

    def stop(self) -> None:
        self.local.stop()


def _retry_tuple(retry) -> tuple[int, tuple[int, ...]] | None:
    """`Retry(max, interval)` (rq's), `(max, (waits…))` or None."""
    if retry is None:
        return None
    if isinstance(retry, tuple):
        return int(retry[0]), tuple(int(v) for v in retry[1])
    return int(retry.max), tuple(int(v) for v in retry.intervals)


def current() -> Engine:
    return current_app.extensions["jobs"]


# -- the function every periodic run goes through -------------------------------------------------------------
def run_periodic(name: str, slot: int | None = None, trigger: str = "schedule"):
    """Run periodic job `name` and record its last run (what the panel and `flask jobs list` show)."""
    periodic = schedule.by_name(name)
    engine = current()
    record = {"status": "started", "started_at": time.time(), "slot": slot, "trigger": trigger,
              "job_id": _current_rq_job_id(), "host": socket.gethostname(), "pid": os.getpid()}
    _record(engine, name, record)
    try:
        result = schedule.resolve(periodic.func)()
    except Exception as exc:
        record.update(status="failed", finished_at=time.time(), error=f"{type(exc).__name__}: {exc}"[:1000])
        _record(engine, name, record)
        raise
    record.update(status="finished", finished_at=time.time(), result=result)
    _record(engine, name, record)
    engine.state.count(name)
    # What must follow a run is enqueued by the run once it succeeded (not by the scheduler with depends_on), so a
    # scheduler stopped between two enqueues cannot leave a run without what follows it.
    for func, queue in periodic.followed_by:
        engine.enqueue(func, (), {}, queue=queue)
    return result


def _record(engine: Engine, name: str, record: dict) -> None:
    try:
        engine.state.record_run(name, record)
    except Exception as exc:  # the run itself matters more than its record
        log.warning("jobs: could not record the run", extra={"job": name, "reason": type(exc).__name__})


def _current_rq_job_id() -> str | None:
    from rq import get_current_job

    job = get_current_job()
    return job.id if job is not None else None
