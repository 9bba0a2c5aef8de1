"""Job functions for the jobs tests: module-level, JSON arguments, as every job must be."""
import time

from flask import current_app

CALLS: list = []


def record(value):
    CALLS.append(value)
    return {"value": value}


def always_fails(reason):
    raise RuntimeError(f"upstream said {reason} (contato fulano@example.com)")


def flaky(key: str, failures: int):
    """Fails `failures` times (counted in Redis, or in memory without it), then succeeds."""
    from services import redis_connection

    client = redis_connection.client()
    if client is not None:
        seen = client.incr(f"{current_app.config['CACHE_KEY_PREFIX']}flaky:{key}")
    else:
        CALLS.append(key)
        seen = CALLS.count(key)
    if seen <= failures:
        raise ConnectionError(f"transient failure {seen}")
    return {"attempts": seen}


def slow_marker(key: str, seconds: float):
    """Sleeps, then counts one completion in Redis: a run killed mid-way counts nothing."""
    from services import redis_connection

    time.sleep(seconds)
    redis_connection.client().incr(f"{current_app.config['CACHE_KEY_PREFIX']}done:{key}")
    return {"done": key}


def _record_order(name: str) -> None:
    """Note the run in CALLS and, with Redis, in a shared list (the order across processes)."""
    CALLS.append(name)
    from services import redis_connection

    client = redis_connection.client()
    if client is not None:
        client.rpush(f"{current_app.config['CACHE_KEY_PREFIX']}order", name)


def tick():
    """A periodic job of the tests: counts its runs."""
    _record_order("tick")
    return {"ticked": True}


def after_tick():
    """What follows the periodic `tick` (enqueued once its run succeeded), like the notices after a sync."""
    _record_order("after")
    return {"after": True}
