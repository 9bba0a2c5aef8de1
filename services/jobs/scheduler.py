"""The scheduler: it only enqueues. Each periodic job's current slot is claimed once for the whole deployment.

In RQ mode it runs in `flask jobs worker` (a thread beside the worker; several workers may each run one: a slot's
run has one job id, enqueued only where no job has it, atomically) or alone as `flask jobs scheduler`. In
in-process mode it is a thread of each serving process, claiming slots in a file beside the database.
"""
from __future__ import annotations

import logging
import time

from services import background
from services.jobs import schedule

log = logging.getLogger("portal.jobs")
MAX_SLEEP_S = 30.0
MIN_SLEEP_S = 0.2


class Scheduler:
    def __init__(self, app, engine):
        self.app = app
        self.engine = engine
        self.enqueued = 0
        self._thread = background.PeriodicThread("portal-jobs-scheduler", self.tick, first_delay_s=0.5,
                                                  retry_s=5.0)

    def due(self, now: float) -> list[tuple[schedule.Periodic, int]]:
        config = self.app.config
        return [(job, job.slot(config, now)) for job in schedule.PERIODIC if job.is_enabled(config)]

    def tick(self) -> float:
        """Claim and enqueue every slot that has started; return the seconds until the next one."""
        now = time.time()
        with self.app.app_context():
            for job, slot in self.due(now):
                try:
                    claimed = self.engine.enqueue_periodic(job, slot)
                except Exception as exc:  # Redis down: the slot is tried again at the next tick
                    log.warning("jobs scheduler: could not claim a slot", extra={"job": job.name,
                                                                                 "reason": type(exc).__name__})
                    continue
                if claimed is not None:
                    self.enqueued += 1
                    log.info("periodic job enqueued", extra={"job": job.name, "slot": slot, "queue": job.queue})
        upcoming = [job.next_run(self.app.config, now) for job, _ in self.due(now)]
        wait = (min(upcoming) - time.time()) if upcoming else MAX_SLEEP_S
        return min(max(wait, MIN_SLEEP_S), MAX_SLEEP_S)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._thread.stop(timeout)

    def running(self) -> bool:
        return self._thread.running()
