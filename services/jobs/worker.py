"""`flask jobs worker`: an RQ worker over the portal's queues, each job inside an app context.

Why a SimpleWorker (no fork per job): the portal's app is built once per worker process; a forked horse would
inherit the SQLAlchemy pool's sockets and write a Prometheus file per job. Job timeouts still hold (RQ's SIGALRM
death penalty runs in this main thread). A job whose worker dies (killed, OOM) stays in RQ's StartedJobRegistry
until its timeout plus the grace below has passed; then any worker's maintenance (every
JOBS_MAINTENANCE_INTERVAL_S) retries it if it has retries left, else lists it as failed.
"""
from __future__ import annotations

import logging
import os
import socket

from rq import SimpleWorker

from extensions import db
from services.jobs import schedule

log = logging.getLogger("portal.jobs")


class PortalWorker(SimpleWorker):
    app = None
    grace_s = 60

    def execute_job(self, job, queue):
        with self.app.app_context():
            try:
                return super().execute_job(job, queue)
            finally:
                db.session.remove()

    def get_heartbeat_ttl(self, job) -> int:
        # No heartbeats while a SimpleWorker runs a job: the registry entry must outlive the job's timeout.
        if job.timeout == -1:
            return super().get_heartbeat_ttl(job)
        return int(job.timeout or 180) + self.grace_s


def build(app, engine, queues: tuple[str, ...] = schedule.QUEUES, name: str | None = None) -> PortalWorker:
    from rq.serializers import JSONSerializer

    connection = engine.worker_connection()
    interval = app.config["JOBS_MAINTENANCE_INTERVAL_S"]
    worker = PortalWorker([engine.queue(q, connection) for q in queues], connection=connection,
                          serializer=JSONSerializer, worker_ttl=max(20, 60),
                          name=name or f"{socket.gethostname()}.{os.getpid()}",
                          maintenance_interval=interval)
    worker.app = app
    worker.grace_s = 2 * interval
    return worker
