"""Readiness: is the database reachable and its schema at the migrations' head?

Checks are time-boxed (a hung database answers "fail" after READY_CHECK_TIMEOUT instead of
holding the load balancer's request) and cached for READY_CACHE_SECONDS, so a flood of probes
costs at most one query per interval per process; a failed check is cached for FAIL_RECHECK_S only,
so once the database is back every worker says so within a second (no pass/fail flapping between
workers). Dependency services never make the portal "not ready": their health belongs to the
resilience layer. Nor does Redis: while it is configured but unreachable the answer is "warn" (the
cache, limits and breaker state fall back to each worker's memory); the cache layer knows whether it
is, and the background check pings it so a quiet process learns it too.
"""
from __future__ import annotations

import ast
import contextvars
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from services.database import read_with_retry

log = logging.getLogger("portal.health")
FAIL_RECHECK_S = 0.5


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
            self._app.extensions["cache"].ping()  # bounded by the cache's Redis timeout; marks Redis up or down
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
            cached = self._cached
            keep_for = self._cache_seconds if cached and cached.ready else min(self._cache_seconds, FAIL_RECHECK_S)
            if cached and time.time() - cached.checked_at < keep_for:
                return cached
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
    """The revisions the code expects; empty when the migrations folder is missing (never ready).

    Read from each revision file's `revision` and `down_revision` assignments rather than through alembic's
    ScriptDirectory, so a serving process does not load alembic and mako for one set of strings (the test
    compares both).
    """
    versions = Path(directory) / "versions"
    if not versions.is_dir():
        log.error("migrations folder not found", extra={"directory": directory})
        return set()
    revisions, parents = set(), set()
    for path in versions.glob("*.py"):
        assigned = _revision_assignments(path)
        if "revision" in assigned:
            revisions.add(assigned["revision"])
            down = assigned.get("down_revision")
            parents.update(down if isinstance(down, tuple | list) else (down,) if down else ())
    return revisions - parents


def _revision_assignments(path: Path) -> dict:
    values = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value is not None:
            values[target.id] = ast.literal_eval(node.value)
    return values


def init_app(app) -> None:
    heads = migration_heads(app.extensions["migrations_dir"])
    app.extensions["readiness"] = ReadinessProbe(app, heads, app.config["READY_CHECK_TIMEOUT"],
                                                 app.config["READY_CACHE_SECONDS"])


def readiness() -> Readiness:
    """The database check, then Redis and dependencies: one that is down makes the answer "warn", never "fail"."""
    result = current_app.extensions["readiness"].check()
    if result.ready and redis_down():
        return Readiness("warn", "redis unreachable: cache, limits and breakers are per worker", result.checked_at)
    if result.ready and any(s.status == "down" for s in current_app.extensions["resilience"].statuses()):
        return Readiness("warn", "a dependency service is down", result.checked_at)
    return result


def redis_down() -> bool:
    """REDIS_URL is set and the cache layer has marked Redis unreachable (no I/O here)."""
    return current_app.extensions["cache"].backend() == "memory (redis down)"
