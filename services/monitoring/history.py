"""Where the dashboard's headline figures are kept between samples, for every worker to read.

With Redis: capped lists (`{prefix}monitoring:history:{name}`), the latest sample and the window's baseline, falling
back to this process's memory while Redis fails (`ResilientHistory`). Without Redis: one JSON file per server
(`FileHistory`, beside the SQLite database or in `instance/`), written by the one collector and read by every
worker. `MemoryHistory` is the in-process form both fall back on.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from collections import deque

log = logging.getLogger("portal.monitoring")
HEADLINES = ("request_rate", "error_rate", "p95_latency", "cache_hit_rate", "cpu", "memory")


class MemoryHistory:
    """This process's history (no Redis): deques of [time, value] per headline."""

    def __init__(self, size: int):
        self._series = {name: deque(maxlen=size) for name in HEADLINES}
        self._latest: dict | None = None
        self._baseline: dict | None = None
        self._lock = threading.Lock()

    def append(self, sample: dict) -> None:
        with self._lock:
            for name in HEADLINES:
                if sample.get(name) is not None:
                    self._series[name].append([sample["time"], sample[name]])
            self._latest = sample

    def series(self, name: str, limit: int | None = None) -> list[list[float]]:
        with self._lock:
            points = list(self._series[name])
        return points[-limit:] if limit else points

    def latest(self) -> dict | None:
        return self._latest

    def baseline(self) -> dict | None:
        return self._baseline

    def set_baseline(self, baseline: dict) -> None:
        self._baseline = baseline


class FileHistory:
    """Without Redis: the history in one JSON file under instance/, written by the machine's single
    collector (atomically, by rename) and read by every worker, so all of them show the same charts."""

    def __init__(self, path: str, size: int):
        self.path = path
        self.size = size
        self._cached: tuple[float, dict] | None = None
        self._lock = threading.Lock()

    def _read(self) -> dict:
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            return {"series": {}, "latest": None, "baseline": None}
        cached = self._cached
        if cached is None or cached[0] != mtime:
            try:
                with open(self.path, encoding="utf-8") as handle:
                    cached = (mtime, json.load(handle))
            except (OSError, ValueError):
                return {"series": {}, "latest": None, "baseline": None}
            self._cached = cached
        return cached[1]

    def _write(self, document: dict) -> None:
        temporary = f"{self.path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
        os.replace(temporary, self.path)

    def append(self, sample: dict) -> None:
        with self._lock:
            document = dict(self._read())
            series = {name: list(points) for name, points in document.get("series", {}).items()}
            for name in HEADLINES:
                if sample.get(name) is not None:
                    series[name] = [*series.get(name, []), [sample["time"], sample[name]]][-self.size:]
            self._write({**document, "series": series, "latest": sample})

    def series(self, name: str, limit: int | None = None) -> list[list[float]]:
        points = self._read().get("series", {}).get(name, [])
        return points[-limit:] if limit else list(points)

    def latest(self) -> dict | None:
        return self._read().get("latest")

    def baseline(self) -> dict | None:
        return self._read().get("baseline")

    def set_baseline(self, baseline: dict) -> None:
        with self._lock:
            self._write({**self._read(), "baseline": baseline})


class RedisHistory:
    """The server's history in Redis lists (newest first), shared by every worker."""

    def __init__(self, redis_client, prefix: str, size: int):
        self.redis = redis_client
        self.prefix = f"{prefix}monitoring:"
        self.size = size

    def append(self, sample: dict) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for name in HEADLINES:
            if sample.get(name) is not None:
                key = f"{self.prefix}history:{name}"
                pipe.lpush(key, json.dumps([sample["time"], sample[name]]))
                pipe.ltrim(key, 0, self.size - 1)
        pipe.set(f"{self.prefix}latest", json.dumps(sample))
        pipe.execute()

    def series(self, name: str, limit: int | None = None) -> list[list[float]]:
        raw = self.redis.lrange(f"{self.prefix}history:{name}", 0, (limit or self.size) - 1)
        return [json.loads(item) for item in reversed(raw)]

    def latest(self) -> dict | None:
        raw = self.redis.get(f"{self.prefix}latest")
        return json.loads(raw) if raw else None

    def baseline(self) -> dict | None:
        raw = self.redis.get(f"{self.prefix}baseline")
        return json.loads(raw) if raw else None

    def set_baseline(self, baseline: dict) -> None:
        self.redis.set(f"{self.prefix}baseline", json.dumps(baseline), ex=86400)


class ResilientHistory:
    """Redis history that falls back to this process's memory while Redis fails: the dashboard and the
    alerts keep working through a Redis outage (with per-process history until Redis returns)."""

    def __init__(self, shared: RedisHistory, local: MemoryHistory):
        self.shared, self.local = shared, local

    def _try(self, operation: str, *args):
        try:
            result = getattr(self.shared, operation)(*args)
        except Exception as exc:
            log.warning("monitoring history in memory: Redis unavailable", extra={"reason": type(exc).__name__})
            return getattr(self.local, operation)(*args)
        if operation in ("append", "set_baseline"):
            getattr(self.local, operation)(*args)  # kept warm for the next outage
        return result

    def append(self, sample: dict) -> None:
        self._try("append", sample)

    def series(self, name: str, limit: int | None = None) -> list[list[float]]:
        return self._try("series", name, limit)

    def latest(self) -> dict | None:
        return self._try("latest")

    def baseline(self) -> dict | None:
        return self._try("baseline")

    def set_baseline(self, baseline: dict) -> None:
        self._try("set_baseline", baseline)
