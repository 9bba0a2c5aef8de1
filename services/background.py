"""The portal's own background threads: one way to start them, know whether to, and stop them.

Periodic work is the job schedule's (services.jobs): with Redis it runs on RQ workers, never in a serving
process; without Redis a serving process (`flask run`, each gunicorn worker) runs the schedule on one thread
(`portal-jobs-scheduler`) and the jobs on one thread per queue (`portal-jobs-<queue>`). Besides those, only the
refresher of breaker state shared through Redis (`breaker-refresh`, services.resilience.shared) is a loop here:
it keeps each worker's copy of the other workers' breaker states, so no request waits on Redis for it. Each is a
`PeriodicThread`: started at most once per process and again after a fork (a forked child inherits the
object but not the thread), stopped by an event so a test or a shutdown never waits out a sleep.
Never started by other CLI commands (`flask db upgrade`, `flask shell`…) or under tests: `serving()`.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import click

log = logging.getLogger("portal.background")


def serving(app) -> bool:
    """True when this process serves requests: not under tests, not a CLI command other than `flask run`."""
    if app.testing:
        return False
    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"


class PeriodicThread:
    """Calls `tick()` after `first_delay_s`, then again after each number of seconds `tick()` returns.

    A tick that raises is logged and retried after `retry_s`; the loop ends when `stop()` is called.
    """

    def __init__(self, name: str, tick: Callable[[], float], first_delay_s: float, retry_s: float = 60.0):
        self.name = name
        self._tick = tick
        self._first_delay_s = first_delay_s
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def running(self) -> bool:
        return self._thread is not None and self._pid == os.getpid() and self._thread.is_alive()

    def start(self) -> PeriodicThread:
        """Start the loop in this process, unless it already runs here."""
        with self._lock:
            if not self.running():
                self._pid = os.getpid()
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout)

    def _loop(self) -> None:
        wait = self._first_delay_s
        while not self._stop.wait(wait):
            try:
                wait = self._tick()
            except Exception:
                log.exception("background loop failed; trying again later", extra={"loop": self.name})
                wait = self._retry_s
