"""Watching the database connection: slow queries and lost connections are logged, never silent."""
from __future__ import annotations

import logging
import time

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from extensions import db

log = logging.getLogger("portal.db")
_STATEMENT_PREVIEW = 300


def init_app(app) -> None:
    threshold_s = app.config["SLOW_QUERY_MS"] / 1000
    with app.app_context():
        engine = db.engine

    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, connection_record):
            cursor = dbapi_connection.cursor()
            # WAL lets gunicorn workers read while one writes; busy_timeout waits instead of failing.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _start_timer(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("query_started", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _log_if_slow(conn, cursor, statement, parameters, context, executemany):
        started = conn.info["query_started"].pop()
        elapsed = time.perf_counter() - started
        if elapsed > threshold_s:
            # The statement only, never its parameters: they may hold what a person typed.
            log.warning("slow query", extra={"duration_ms": round(elapsed * 1000, 2),
                                             "statement": " ".join(statement.split())[:_STATEMENT_PREVIEW]})

    @event.listens_for(engine, "handle_error")
    def _forget_timer(context):
        started = context.connection.info.get("query_started") if context.connection is not None else None
        if started:
            started.pop()

    @event.listens_for(engine.pool, "invalidate")
    def _log_lost_connection(dbapi_connection, connection_record, exception):
        log.warning("database connection lost; it is discarded and a new one opened",
                    extra={"reason": type(exception).__name__ if exception else None})


def read_with_retry(operation):
    """Run a read-only `operation()`; if the connection was lost under it, retry exactly once."""
    try:
        return operation()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        db.session.rollback()
        log.warning("retrying a read after a lost database connection")
        return operation()
