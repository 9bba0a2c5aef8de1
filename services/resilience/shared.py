"""Breaker state shared across gunicorn workers and machines through Redis, off the hot path.

Each worker keeps its own window (a local decision, as resilience4j and Polly argue), but:
- a transition to open is published to Redis; every worker reads the published states from a local
  copy that a background thread refreshes every `refresh_s` (≤ 1 s), so one worker's trip protects
  the others within a second, and no call waits on Redis;
- the half-open trial is a Redis lease (SET NX PX), so one worker probes for all;
- an admin reset or forced open is a published command with a version, applied by every worker at
  its next refresh.
While Redis is unreachable, each worker's breaker simply works alone.
"""
from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
import time

from services import background
from services.resilience.breaker import CircuitBreaker, State, TrialLease

log = logging.getLogger("portal.resilience")

LOCAL_LEASE = "local"
_RELEASE_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisTrialLease(TrialLease):
    def __init__(self, shared: SharedBreakers):
        self._shared = shared

    def acquire(self, name: str, ttl_s: float) -> str | None:
        token = secrets.token_hex(8)
        try:
            taken = self._shared.redis.set(self._shared.key(name, "trial"), token, nx=True, px=int(ttl_s * 1000))
        except Exception:  # Redis down: this worker probes on its own, as without Redis
            return "local"
        return token if taken else None

    def release(self, name: str, lease_id: str) -> None:
        if lease_id == LOCAL_LEASE:
            return
        with contextlib.suppress(Exception):  # the lease expires by itself
            self._shared.release_script(keys=[self._shared.key(name, "trial")], args=[lease_id])


class SharedBreakers:
    def __init__(self, redis_client, prefix: str, refresh_s: float = 0.5):
        self.redis = redis_client
        self.prefix = prefix
        self.refresh_s = refresh_s
        self.release_script = redis_client.register_script(_RELEASE_IF_OWNER)
        self._breakers: dict[str, CircuitBreaker] = {}
        self._seen_commands: dict[str, int] = {}
        self._pending: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        self._refresher = background.PeriodicThread("breaker-refresh", self._refresh, first_delay_s=refresh_s,
                                                    retry_s=refresh_s)
        self.healthy = True

    def key(self, name: str, part: str) -> str:
        return f"{self.prefix}breaker:{name}:{part}"

    def attach(self, breaker: CircuitBreaker) -> None:
        self._breakers[breaker.name] = breaker
        breaker.trial_lease = RedisTrialLease(self)
        breaker._on_transition = self._on_transition
        self.ensure_running()
        self.refresh_once()  # once, at creation: a breaker born while others are open starts open

    # Called with the breaker's lock held: only queue, the refresher thread does the I/O.
    def _on_transition(self, breaker: CircuitBreaker, old: State, new: State) -> None:
        if new == State.OPEN:
            until_ms = int((time.time() + breaker.config.open_s) * 1000)
            with self._lock:
                self._pending.append((breaker.name, {"until_ms": until_ms}))
        self.ensure_running()

    def command(self, name: str, action: str) -> None:
        """Publish an admin action ("reset", "force_open", "disable") for every worker."""
        key = self.key(name, "command")
        version = int(self.redis.incr(self.key(name, "command_version")))
        self.redis.set(key, json.dumps({"action": action, "version": version}), ex=86400)
        if action == "reset":
            self.redis.delete(self.key(name, "open"))

    def ensure_running(self) -> None:
        """Start the refresher in this process (after a fork the parent's thread does not exist)."""
        if not self._refresher.running():
            self._refresher.start()

    def stop(self) -> None:
        self._refresher.stop(2)

    def _refresh(self) -> float:
        self.refresh_once()
        return self.refresh_s

    def refresh_once(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        names = list(self._breakers)
        try:
            pipe = self.redis.pipeline(transaction=False)
            for name, record in pending:
                ttl_ms = max(1, record["until_ms"] - int(time.time() * 1000))
                pipe.set(self.key(name, "open"), json.dumps(record), px=ttl_ms)
            for name in names:
                pipe.get(self.key(name, "open"))
                pipe.get(self.key(name, "command"))
            results = pipe.execute()[len(pending):]
        except Exception as exc:
            with self._lock:
                self._pending = pending + self._pending  # publish once Redis is back
            if self.healthy:
                self.healthy = False
                log.warning("breaker state sharing unavailable; breakers work per worker",
                            extra={"reason": type(exc).__name__})
            return
        if not self.healthy:
            self.healthy = True
            log.warning("breaker state sharing restored")
        now_ms = int(time.time() * 1000)
        for index, name in enumerate(names):
            breaker = self._breakers[name]
            opened, command = results[2 * index], results[2 * index + 1]
            if command:
                self._apply_command(breaker, json.loads(command))
            if opened:
                remaining = (json.loads(opened)["until_ms"] - now_ms) / 1000
                if breaker.state == State.CLOSED:
                    breaker.open_until(remaining)

    def _apply_command(self, breaker: CircuitBreaker, command: dict) -> None:
        # The latest command stands until the next one, so a worker started later adopts it too.
        version = int(command["version"])
        if version <= self._seen_commands.get(breaker.name, 0):
            return
        self._seen_commands[breaker.name] = version
        {"reset": breaker.reset, "force_open": breaker.force_open, "disable": breaker.disable}[command["action"]]()
