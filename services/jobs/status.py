"""What the jobs panel, `/api/v1/monitoring/jobs` and `flask jobs list` show, and the alert readings over it.

RQ mode: queues (length, oldest job's age, scheduled retries, started, failed), workers (alive, state, current
job) and the latest failed jobs with their error, all read from Redis, so every instance shows the whole
deployment. In-process mode: this process's queues and failures. Both: the last run of each periodic job.
"""
from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from flask import current_app

from services.jobs import schedule
from utils.masking import mask

log = logging.getLogger("portal.jobs")
FAILED_LISTED = 20
RECENT_FAILURE_S = 86400


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _error_line(text: str | None) -> str | None:
    """The last line of a traceback (the exception), masked: an error may quote an e-mail or a CPF."""
    if not text:
        return None
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return mask(lines[-1].strip())[:500] if lines else None


def stall_after_s(config, queue: str) -> int | None:
    """Two intervals of the most frequent periodic job of `queue`: older waiting jobs raise an alert."""
    intervals = [job.interval_s(config) for job in schedule.PERIODIC if job.queue == queue and job.is_enabled(config)]
    return 2 * min(intervals) if intervals else None


def periodic_rows(engine) -> list[dict]:
    config = current_app.config
    now = time.time()
    try:
        runs = engine.state.runs()
        counts = engine.state.counts()
    except Exception as exc:
        log.warning("jobs: last runs unavailable", extra={"reason": type(exc).__name__})
        runs, counts = {}, {}
    return [{"name": job.name, "description": job.description, "queue": job.queue,
             "interval_s": job.interval_s(config), "enabled": job.is_enabled(config),
             "timeout_s": job.timeout_s, "retries": job.retry[0] if job.retry else 0,
             "next_run": job.next_run(config, now) if job.is_enabled(config) else None,
             "runs": counts.get(job.name, 0), "last_run": _public_run(runs.get(job.name))}
            for job in schedule.PERIODIC]


def _public_run(run: dict | None) -> dict | None:
    if run is None:
        return None
    shown = {key: run.get(key) for key in ("status", "started_at", "finished_at", "trigger", "job_id", "host")}
    shown["error"] = _error_line(run.get("error"))
    return shown


def _rq_queues(engine, config) -> list[dict]:
    from rq.job import Job
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    rows = []
    now = time.time()
    for name in schedule.QUEUES:
        queue = engine.queue(name)
        first = queue.get_job_ids(0, 1)
        oldest = None
        if first:
            job = Job.fetch(first[0], connection=engine.redis, serializer=queue.serializer) \
                if engine.redis.exists(f"rq:job:{first[0]}") else None
            enqueued = _epoch(job.enqueued_at) if job is not None else None
            oldest = round(now - enqueued, 1) if enqueued else None
        rows.append({"name": name, "rq_name": queue.name, "length": queue.count, "oldest_age_s": oldest,
                     "stall_after_s": stall_after_s(config, name),
                     "scheduled": ScheduledJobRegistry(queue=queue).count,
                     "started": StartedJobRegistry(queue=queue).count,
                     "failed": FailedJobRegistry(queue=queue).count})
    return rows


def _rq_workers(engine) -> list[dict]:
    from rq import Worker

    ours = {engine.queue_name(name) for name in schedule.QUEUES}
    seen, rows = set(), []
    for name in schedule.QUEUES:
        for worker in Worker.all(queue=engine.queue(name)):
            if worker.name in seen:
                continue
            seen.add(worker.name)
            heartbeat = _epoch(worker.last_heartbeat)
            alive = heartbeat is not None and time.time() - heartbeat < worker.worker_ttl + 60
            rows.append({"name": worker.name, "hostname": worker.hostname, "pid": worker.pid,
                         "state": _plain(worker.get_state()), "alive": alive,
                         "queues": [q.name for q in worker.queues if q.name in ours],
                         "current_job": worker.get_current_job_id(), "last_heartbeat": heartbeat,
                         "finished_jobs": worker.successful_job_count, "failed_jobs": worker.failed_job_count})
    return rows


def _plain(state) -> str:
    """RQ's WorkerStatus ("busy", "idle"…) as its plain value."""
    return str(getattr(state, "value", state))


def _rq_failed(engine) -> list[dict]:
    from rq.job import Job
    from rq.registry import FailedJobRegistry

    rows = []
    for name in schedule.QUEUES:
        queue = engine.queue(name)
        ids = FailedJobRegistry(queue=queue).get_job_ids(0, FAILED_LISTED - 1, desc=True)
        for job in Job.fetch_many(ids, connection=engine.redis, serializer=queue.serializer):
            if job is None:
                continue
            result = job.latest_result()
            rows.append({"id": job.id, "queue": name, "func": job.func_name, "description": job.description,
                         "error": _error_line(result.exc_string if result is not None else None),
                         "ended_at": _epoch(job.ended_at), "enqueued_at": _epoch(job.enqueued_at),
                         "retries_left": job.retries_left})
    rows.sort(key=lambda row: row["ended_at"] or 0, reverse=True)
    return rows[:FAILED_LISTED]


def panel(engine=None) -> dict:
    """Everything the jobs panel shows (JSON-ready); "available": False while Redis does not answer."""
    from services.jobs.engine import current

    engine = engine or current()
    config = current_app.config
    data = {"mode": engine.mode, "queues": [], "workers": [], "failed": [], "periodic": periodic_rows(engine),
            "available": True}
    if engine.mode == "rq":
        try:
            data["queues"] = _rq_queues(engine, config)
            data["workers"] = _rq_workers(engine)
            data["failed"] = _rq_failed(engine)
        except Exception as exc:
            log.warning("jobs panel: Redis unavailable", extra={"reason": type(exc).__name__})
            data["available"] = False
    else:
        figures = engine.local.queue_figures()
        data["queues"] = [{"name": name, "rq_name": None, **figures[name], "stall_after_s": stall_after_s(config, name),
                           "scheduled": 0, "started": int(figures[name]["current"] is not None),
                           "failed": sum(1 for f in engine.local.failed if f["queue"] == name)}
                          for name in schedule.QUEUES]
        data["failed"] = [{**failure, "error": _error_line(failure["error"])} for failure in engine.local.failed]
    data["alive_workers"] = sum(1 for worker in data["workers"] if worker["alive"])
    return data


def alert_readings(data: dict) -> dict[str, float | None]:
    """Readings for services.monitoring.alerts: a queue waiting past two intervals, no worker alive (RQ only),
    and failed jobs in the last day."""
    if data["mode"] != "rq" or not data["available"]:
        readings: dict[str, float | None] = {}
        if data["mode"] != "rq":
            for queue in data["queues"]:
                readings[f"jobs_failed:{queue['name']}"] = float(_recent_failure(data["failed"], queue["name"]))
        return readings
    readings = {"jobs_no_worker": float(data["alive_workers"] == 0)}
    for queue in data["queues"]:
        limit, age = queue["stall_after_s"], queue["oldest_age_s"]
        readings[f"jobs_queue_stalled:{queue['name']}"] = float(limit is not None and age is not None and age > limit)
        readings[f"jobs_failed:{queue['name']}"] = float(_recent_failure(data["failed"], queue["name"]))
    return readings


def _recent_failure(failed: list[dict], queue: str) -> bool:
    now = time.time()
    return any(row["queue"] == queue and (row.get("ended_at") or 0) > now - RECENT_FAILURE_S for row in failed)
