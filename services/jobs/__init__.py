"""Background jobs: RQ queues on Redis, the periodic schedule, and the same jobs in-process without Redis.

Enqueue a job (a plain, idempotent, module-level function of JSON-ready arguments; pickle is never used):

    from services import jobs

    jobs.enqueue(send_mail, outbox_id, queue="high", retry=jobs.Retry(max=5, interval=[30, 120, 600]),
                 timeout=60)
    batch = jobs.enqueue(sync_batch, numbers, queue="default")
    jobs.enqueue(send_notices, queue="default", depends_on=batch)   # runs only after `batch` succeeded

`enqueue(func, *args, queue="default", retry=None, timeout=None, depends_on=None, job_id=None, **kwargs)` returns a
`JobRef` (id, queue, mode). Queues: "high" (a staff "atualizar agora", e-mail sends), "default" (sync batches),
"low" (retention, cleanup, reports). It works in every mode (services.jobs.engine): with Redis the job goes to RQ
and `make worker` runs it; without Redis it runs on a thread of this process; under tests ("eager", the default
when TESTING) it runs at once in the caller.

Register a periodic job: one line in `PERIODIC` (services/jobs/schedule.py), e.g.

    Periodic("digest", "services.email_follows.jobs:send_digest", "low", 86400, "Resumo diário"),

A job that must follow a periodic run goes in that run's `followed_by=(("module:function", "queue"),)`: the run
enqueues it once it has succeeded. Each periodic job runs once per interval for the whole deployment, however
many instances and workers there are (services.jobs.scheduler). `flask jobs list` shows the schedule,
`flask jobs run NAME` runs one now, `flask jobs worker` (`make worker`) runs the queues and the schedule.
`jobs.wait(ref, timeout_s)` lets a request answer with a job's result when it comes in time (a staff "atualizar
agora" on the high queue) and say "em segundo plano" otherwise.
"""
from __future__ import annotations

from flask import current_app
from rq import Retry

from services.jobs.engine import Engine, JobRef, current
from services.jobs.schedule import PERIODIC, QUEUES, Periodic

__all__ = ["PERIODIC", "QUEUES", "JobRef", "Periodic", "Retry", "current", "enqueue", "init_app", "mode", "wait"]


def enqueue(func, *args, queue: str = "default", retry=None, timeout: int | None = None, depends_on=None,
            job_id: str | None = None, description: str | None = None, **kwargs) -> JobRef:
    """Put `func(*args, **kwargs)` on `queue` (see the module's docstring); returns its JobRef."""
    return current().enqueue(func, args, kwargs, queue=queue, retry=retry, timeout=timeout, depends_on=depends_on,
                             job_id=job_id, description=description)


def wait(ref: JobRef, timeout_s: float) -> tuple[str, object]:
    """("finished", result), ("failed", None) or ("pending", None) after waiting at most `timeout_s`."""
    return current().wait(ref, timeout_s)


def mode() -> str:
    """"rq", "inprocess" or "eager": how this process runs jobs."""
    return current().mode


def init_app(app) -> None:
    """Build this process's engine; without Redis, a serving process starts the in-process schedule."""
    from services import background
    from services.jobs import scheduler

    engine = Engine(app)
    app.extensions["jobs"] = engine
    if engine.mode == "inprocess" and background.serving(app):
        app.extensions["jobs_scheduler"] = scheduler.Scheduler(app, engine).start()


def scheduler_of(app=None):
    """The in-process scheduler of this process, if it runs one."""
    return (app or current_app).extensions.get("jobs_scheduler")
