"""The figures of every portal instance of the deployment, summed for the dashboard.

Each instance (one gunicorn master, with its own Prometheus files) publishes its cumulative request counts to
Redis whenever its figures are read — a Prometheus scrape of /metrics (every 15 s in deploy/), the dashboard or
the monitoring API — into the hash `{prefix}monitoring:instances`, one field per instance, stamped with the
time. The dashboard sums the instances heard from within STALE_AFTER_S. No thread, no extra request: an
instance nobody scrapes or views for two minutes drops out of the sum (and says so: `instances` lists them).
Without Redis there is one instance: this one.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time

from flask import current_app

from services import redis_connection
from services.monitoring import scrape
from services.monitoring.metrics import multiprocess_dir

log = logging.getLogger("portal.monitoring")
STALE_AFTER_S = 120
FORGET_AFTER_S = 86400
REQUESTS = "portal_http_requests_total"


def instance_name() -> str:
    """host:directory of this instance's Prometheus files (one per gunicorn master), else host:pid."""
    return f"{socket.gethostname()}:{multiprocess_dir() or os.getpid()}"


def _key() -> str:
    return f"{current_app.config['CACHE_KEY_PREFIX']}monitoring:instances"


def figures(snap: scrape.Snapshot) -> dict:
    return {"time": time.time(), "requests_by_status": {k: int(v) for k, v in snap.by(REQUESTS, "status").items()}}


def publish(snap: scrape.Snapshot) -> dict:
    """Publish this instance's figures; returns them."""
    mine = figures(snap)
    client = redis_connection.client()
    if client is not None:
        try:
            client.hset(_key(), instance_name(), json.dumps(mine))
        except Exception as exc:
            log.warning("instance figures not published", extra={"reason": type(exc).__name__})
    return mine


def combined(snap: scrape.Snapshot) -> dict:
    """This instance's figures published, then every live instance's summed: requests by status and total."""
    mine = publish(snap)
    everyone = {instance_name(): mine}
    client = redis_connection.client()
    if client is not None:
        try:
            raw = client.hgetall(_key())
        except Exception:
            raw = {}
        now = time.time()
        gone = []
        for name, value in raw.items():
            data = json.loads(value)
            age = now - data.get("time", 0)
            if age <= STALE_AFTER_S:
                everyone.setdefault(name.decode(), data)
            elif age > FORGET_AFTER_S:
                gone.append(name)  # a stopped instance (each start is a new name): forget it after a day
        if gone:
            with contextlib.suppress(Exception):
                client.hdel(_key(), *gone)
    by_status: dict[str, int] = {}
    for data in everyone.values():
        for status, count in data["requests_by_status"].items():
            by_status[status] = by_status.get(status, 0) + int(count)
    return {"by_status": by_status, "total": sum(by_status.values()),
            "instances": [{"name": name, "requests": sum(data["requests_by_status"].values()),
                           "published_at": data["time"], "this": name == instance_name()}
                          for name, data in sorted(everyone.items())]}
