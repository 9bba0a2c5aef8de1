"""Client-side rate limits per dependency: a token bucket, shared by all workers through Redis when present.

Keeps the portal inside a dependency's published quota (Escavador: 500 requests a minute). The Redis
bucket is one atomic Lua script per call; when Redis fails the local bucket takes over (each worker
then limits alone, at the full rate — documented worst case: rate × workers).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("portal.resilience")

# KEYS[1] bucket; ARGV: capacity, refill per ms, now ms, ttl ms. Returns ms to wait (0 = token taken).
_BUCKET_TAKE_LUA = """
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local capacity = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / per_ms) end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return wait
"""


class TokenBucket:
    """`rate_per_min` tokens a minute, bursts up to `burst`. `take()` returns the seconds to wait (0 = go)."""

    def __init__(self, rate_per_min: float, burst: int | None = None, clock: Callable[[], float] = time.monotonic):
        self.capacity = float(burst or max(1, int(rate_per_min // 6)))
        self.per_s = rate_per_min / 60.0
        self._clock = clock
        self._tokens = self.capacity
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.per_s)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.per_s


class SharedTokenBucket(TokenBucket):
    """The same bucket kept in Redis, so the limit holds for all workers and machines together."""

    def __init__(self, rate_per_min: float, redis_client, key: str, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(rate_per_min, burst, clock)
        self._redis = redis_client
        self._key = key
        self._script = redis_client.register_script(_BUCKET_TAKE_LUA)
        self._redis_failed_at = 0.0

    def take(self) -> float:
        if time.monotonic() - self._redis_failed_at > 5:
            try:
                wait_ms = self._script(keys=[self._key], args=[self.capacity, self.per_s / 1000,
                                                               int(time.time() * 1000), 120_000])
                return int(wait_ms) / 1000
            except Exception as exc:  # any Redis trouble: limit locally, never fail the call for it
                self._redis_failed_at = time.monotonic()
                log.warning("shared rate limit unavailable; limiting per process",
                            extra={"bucket": self._key, "reason": type(exc).__name__})
        return super().take()
