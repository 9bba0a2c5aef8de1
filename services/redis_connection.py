"""The one Redis connection of a process, and the one rule every user of it follows while Redis is down.

`init_app(app)` builds one client from REDIS_URL (none without it) and keeps it in `app.extensions["redis"]`;
`connect(url, timeout_s)` is the only place a Redis client is made. Its users: the cache's shared tier
(services.cache_store), breaker state and outbound rate limits shared by the workers (services.resilience), the
single-runner locks (services.locks), the dashboard's history and collector lease (services.monitoring), and
Flask-Limiter's storage, which is handed this client's connection pool.

The client gives up fast: connect and read time out after REDIS_TIMEOUT_MS (100 ms), no client retries (redis-py
8 defaults to 5 s timeouts and several retries with backoff), a health check on a connection idle for 2 s.

The rule while Redis is down (a timeout, a refused connection, any RedisError):
1. No request and no job fails or waits because of it. Each user falls back to its per-process form at once: the
   cache to its memory tier (its breaker stops asking Redis for a few seconds), breakers to per-worker state,
   outbound rate limits and Flask-Limiter to per-process limits, the sync lock to a file lock on the machine, the
   collector's lease to a file lock and its history to memory.
2. Each fallback is logged once per occurrence as a WARNING naming the user and the error class, never the URL.
3. `/health/ready` answers "warn", the dashboard shows Redis down, and the collector raises the "Redis down" alert.
4. Nothing has to be restarted: the next command after Redis returns uses it again; counts made in memory during
   the outage are not replayed (the figures of a Redis outage are per process).
"""
from __future__ import annotations

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry

HEALTH_CHECK_INTERVAL_S = 2


def connect(url: str, timeout_s: float) -> redis.Redis:
    """A client that gives up after `timeout_s` and never retries by itself."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        retry_on_error=[],
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
    )


def init_app(app) -> None:
    """Build this process's client (before Flask-Limiter binds: it shares the client's pool)."""
    url = app.config.get("REDIS_URL")
    client = connect(url, app.config["REDIS_TIMEOUT_MS"] / 1000) if url else None
    app.extensions["redis"] = client
    if client is not None:
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {"connection_pool": client.connection_pool}


def client(app=None) -> redis.Redis | None:
    """This process's Redis client, or None when REDIS_URL is not set."""
    return (app or current_app).extensions.get("redis")


def reachable(app=None) -> bool | None:
    """Whether Redis answers a PING now: None when it is not configured."""
    connection = client(app)
    if connection is None:
        return None
    try:
        return bool(connection.ping())
    except (redis.RedisError, OSError):
        return False
