"""Readiness: is the database reachable and its schema at the migrations' head?

Checks are time-boxed (a hung database answers "fail" after READY_CHECK_TIMEOUT instead of
holding the load balancer's request) and cached for READY_CACHE_SECONDS, so a flood of probes
costs at most one query per interval per process. Upstream services never make the portal
"not ready": their health belongs to the resilience layer.
"""
from __future__ import annotations

import contextvars
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from services.database import read_with_retry

log = logging.getLogger("portal.health")


@dataclass(frozen=True)
class Readiness:
    status: str  # "pass", "warn" or "fail", as in the application/health+json draft
    reason: str | None
    checked_at: float

    @property
    def ready(self) -> bool:
        return self.status in ("pass", "warn")


class ReadinessProbe:
    def __init__(self, app, heads: set[str], timeout: float, cache_seconds: float):
        self._app = app
        self._heads = heads
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: Readiness | None = None
        self._pending: Future | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")

    def _query(self) -> Readiness:
        with self._app.app_context():
            try:
                query = text("SELECT version_num FROM alembic_version")
                rows = read_with_retry(lambda: db.session.execute(query).all())
            except SQLAlchemyError as exc:
                reason = "database unreachable or schema missing: " + type(exc).__name__
                return Readiness("fail", reason, time.time())
        applied = {row[0] for row in rows}
        if not self._heads or applied != self._heads:
            return Readiness("fail", f"migrations not applied (database at {sorted(applied)}, code at "
                                     f"{sorted(self._heads)})", time.time())
        return Readiness("pass", None, time.time())

    def check(self) -> Readiness:
        with self._lock:
            if self._cached and time.time() - self._cached.checked_at < self._cache_seconds:
                return self._cached
            if self._pending is None or self._pending.done():
                # Run in a copy of this context, so the check's log lines carry the request ID.
                self._pending = self._executor.submit(contextvars.copy_context().run, self._query)
            pending = self._pending
        try:
            result = pending.result(timeout=self._timeout)
        except FutureTimeout:
            result = Readiness("fail", f"database did not answer within {self._timeout:g} s", time.time())
        if not result.ready:
            log.warning("not ready", extra={"reason": result.reason})
        with self._lock:
            self._cached = result
        return result


def migration_heads(directory: str) -> set[str]:
    """The revisions the code expects; empty when the migrations folder is missing (never ready)."""
    try:
        return set(ScriptDirectory(directory).get_heads())
    except CommandError:
        log.error("migrations folder not found", extra={"directory": directory})
        return set()


def init_app(app) -> None:
    heads = migration_heads(app.extensions["migrate"].directory)
    app.extensions["readiness"] = ReadinessProbe(app, heads, app.config["READY_CHECK_TIMEOUT"],
                                                 app.config["READY_CACHE_SECONDS"])


def readiness() -> Readiness:
    """The database check, then upstreams: one that is down makes the answer "warn", never "fail"."""
    result = current_app.extensions["readiness"].check()
    if result.ready and any(s.status == "down" for s in current_app.extensions["resilience"].statuses()):
        return Readiness("warn", "an upstream service is down", result.checked_at)
    return result
