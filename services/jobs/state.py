"""Where the schedule keeps what every scheduler of the deployment must agree on: claimed slots and last runs.

- RedisState: the last run of each periodic job is one field of a Redis hash, its count another. Shared by every
  instance, worker and scheduler. It claims no slot: with RQ a slot's run is claimed by its enqueue
  (engine.enqueue_periodic).
- FileState (no Redis, a SQLite file): one JSON file beside the database, read and written under an exclusive
  `flock`, so the serving processes of one machine (gunicorn workers) claim each slot once among themselves.
- MemoryState (an in-memory database: tests, one process): a dict under a lock.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading

RUNS_KEPT = 1  # the last run of each job; RQ's registries keep the rest


class RedisState:
    shared = True

    def __init__(self, client, prefix: str):
        self.client = client
        self.prefix = prefix

    def record_run(self, name: str, run: dict) -> None:
        self.client.hset(f"{self.prefix}jobs:runs", name, json.dumps(run))

    def runs(self) -> dict[str, dict]:
        raw = self.client.hgetall(f"{self.prefix}jobs:runs")
        return {key.decode(): json.loads(value) for key, value in raw.items()}

    def count(self, name: str) -> None:
        self.client.hincrby(f"{self.prefix}jobs:counts", name, 1)

    def counts(self) -> dict[str, int]:
        return {key.decode(): int(value) for key, value in self.client.hgetall(f"{self.prefix}jobs:counts").items()}


class FileState:
    shared = False

    def __init__(self, path: str):
        self.path = path

    @contextlib.contextmanager
    def _locked(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+") as handle:
                text = handle.read()
                try:
                    data = json.loads(text) if text.strip() else {}
                except ValueError:
                    data = {}  # a torn file from a crash: start again, at worst one run too many
                data.setdefault("slots", {})
                data.setdefault("runs", {})
                before = json.dumps(data, sort_keys=True)
                yield data
                if json.dumps(data, sort_keys=True) != before:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(json.dumps(data))
                    handle.flush()
                    os.fsync(handle.fileno())
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def claim(self, name: str, slot: int) -> bool:
        with self._locked() as data:
            if data["slots"].get(name, -1) >= slot:
                return False
            data["slots"][name] = slot
            return True

    def record_run(self, name: str, run: dict) -> None:
        with self._locked() as data:
            data["runs"][name] = run

    def runs(self) -> dict[str, dict]:
        with self._locked() as data:
            return dict(data["runs"])

    def count(self, name: str) -> None:
        with self._locked() as data:
            counts = data.setdefault("counts", {})
            counts[name] = counts.get(name, 0) + 1

    def counts(self) -> dict[str, int]:
        with self._locked() as data:
            return dict(data.get("counts", {}))


class MemoryState:
    shared = False

    def __init__(self):
        self._lock = threading.Lock()
        self._slots: dict[str, int] = {}
        self._runs: dict[str, dict] = {}
        self._counts: dict[str, int] = {}

    def claim(self, name: str, slot: int) -> bool:
        with self._lock:
            if self._slots.get(name, -1) >= slot:
                return False
            self._slots[name] = slot
            return True

    def record_run(self, name: str, run: dict) -> None:
        with self._lock:
            self._runs[name] = run

    def runs(self) -> dict[str, dict]:
        with self._lock:
            return dict(self._runs)

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
