"""Where services.cache keeps its entries: Redis, a bounded memory tier, and the breaker between them.

`Store` offers one set of calls and answers them from Redis while Redis is healthy and from the
process's memory tier otherwise (no REDIS_URL, or Redis failing). Nothing here knows about Flask.

Every entry is the JSON envelope `{"stored_at":…,"ttl":…,"stale_ttl":…,"value":…}`, written in that
order so the Lua scripts can read its header without decoding the value. Redis keys:
  {prefix}{namespace}:v{version}:{key}    an entry; Redis expires it after ttl + stale_ttl
  {prefix}_ver:{namespace}                the namespace's version (INCR to invalidate it all, O(1))
  {prefix}_lease:{namespace}:v{v}:{key}   the load lease of one key (SET NX PX, random token)
  {prefix}_stats                          one hash, fields "{namespace}:{counter}" (HINCRBY)
The scripts build entry and lease keys from the version they read, so they suit a single Redis
(or a replicated primary), not Redis Cluster.
"""
from __future__ import annotations

import fnmatch
import logging
import re
import threading
from collections import Counter, defaultdict
from typing import NamedTuple

import redis
from cachetools import TLRUCache

from services.cache_breaker import PROBE, SKIP, RedisBreaker

log = logging.getLogger("portal.cache")

COUNTERS = ("hits", "misses", "stale_hits", "errors", "evictions")
_COUNTER_OF = {"fresh": "hits", "stale": "stale_hits", "miss": "misses"}
SCAN_BATCH = 500
# A pooled connection idle this long is PINGed before use (redis-py's default is never).

# KEYS: version key, stats hash. ARGV: entry base, ":key", now, stats field prefix or "" (do not count),
# lease base or "" (no lease wanted), lease token, lease ms. Returns {version, status, envelope, leased}.
LOOKUP = """
local ver = redis.call('GET', KEYS[1]) or '0'
local data = redis.call('GET', ARGV[1] .. ver .. ARGV[2])
local status = 'miss'
if data then
  local at, ttl, stale = string.match(data, '^{"stored_at":([%d%.eE%+%-]+),"ttl":(%d+),"stale_ttl":(%d+),')
  if at then
    local age = tonumber(ARGV[3]) - tonumber(at)
    if age < tonumber(ttl) then status = 'fresh' elseif age < tonumber(ttl) + tonumber(stale) then status = 'stale' end
  end
  if status == 'miss' then data = false end
end
if ARGV[4] ~= '' then
  local field = 'misses'
  if status == 'fresh' then field = 'hits' elseif status == 'stale' then field = 'stale_hits' end
  redis.call('HINCRBY', KEYS[2], ARGV[4] .. field, 1)
end
local leased = 0
if ARGV[5] ~= '' and status ~= 'fresh' then
  if redis.call('SET', ARGV[5] .. ver .. ARGV[2], ARGV[6], 'NX', 'PX', ARGV[7]) then leased = 1 end
end
return {ver, status, data, leased}
"""
# KEYS: version key. ARGV: entry base, ":key", version or "" (current), envelope, px, lease base or "", token.
# Writes the entry, then releases the lease if this caller still holds it (compare-and-delete).
STORE = """
local ver = ARGV[3]
if ver == '' then ver = redis.call('GET', KEYS[1]) or '0' end
redis.call('SET', ARGV[1] .. ver .. ARGV[2], ARGV[4], 'PX', ARGV[5])
if ARGV[6] ~= '' and redis.call('GET', ARGV[6] .. ver .. ARGV[2]) == ARGV[7] then
  redis.call('DEL', ARGV[6] .. ver .. ARGV[2])
end
return ver
"""
RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
DELETE = "return redis.call('UNLINK', ARGV[1] .. (redis.call('GET', KEYS[1]) or '0') .. ARGV[2])"


class Lookup(NamedTuple):
    tier: str  # which tier answered; its version and lease mean nothing to the other tier
    version: int
    status: str  # "fresh", "stale" or "miss"
    text: str | bytes | None  # the envelope, None on a miss
    leased: bool  # the caller now holds the key's load lease
    token: str = ""  # the lease's token, to release it with compare-and-delete


def status_of(stored_at: float, ttl: int, stale_ttl: int, now: float) -> str:
    """The same rule as the LOOKUP script: fresh within ttl, stale within ttl + stale_ttl."""
    age = now - stored_at
    if age < ttl:
        return "fresh"
    return "stale" if age < ttl + stale_ttl else "miss"


class _Entries(TLRUCache):
    """Per-entry expiry (stored_at + ttl + stale_ttl) and LRU order; counts capacity evictions."""

    def __init__(self, maxsize: int, clock, on_evict):
        super().__init__(maxsize, ttu=lambda _key, item, _now: item[0] + item[1] + item[2], timer=clock)
        self._on_evict = on_evict

    def popitem(self):
        # Called only when the cache is full (expiry removes items through expire(), not here).
        key, item = super().popitem()
        self._on_evict(key[0])
        return key, item


class MemoryTier:
    """This process's entries: the whole cache without REDIS_URL, the fallback while Redis is down."""

    name = "memory"

    def __init__(self, max_entries: int, clock):
        self._lock = threading.Lock()
        self._entries = _Entries(max_entries, clock, self._evicted)
        self._versions: dict[str, int] = {}
        self._counts: defaultdict[str, Counter] = defaultdict(Counter)

    def _evicted(self, namespace: str) -> None:  # under self._lock (called from a write)
        self._counts[namespace]["evictions"] += 1

    def lookup(self, namespace, key, now, count, lease, lease_ms) -> Lookup:
        with self._lock:
            version = self._versions.get(namespace, 0)
            item = self._entries.get((namespace, version, key))
            status = status_of(item[0], item[1], item[2], now) if item else "miss"
            if count:
                self._counts[namespace][_COUNTER_OF[status]] += 1
        # The caller's per-key flight already admits one loader per process: the lease is always granted.
        leased = bool(lease) and status != "fresh"
        text = item[3] if status != "miss" else None
        return Lookup(self.name, version, status, text, leased, lease if leased else "")

    def store(self, namespace, key, text, stored_at, ttl, stale_ttl, at: Lookup | None) -> None:
        with self._lock:
            own = at is not None and at.tier == self.name
            version = at.version if own else self._versions.get(namespace, 0)
            self._entries[(namespace, version, key)] = (stored_at, ttl, stale_ttl, text)

    def release(self, namespace, key, at: Lookup) -> None:
        pass

    def delete(self, namespace, key) -> None:
        with self._lock:
            self._entries.pop((namespace, self._versions.get(namespace, 0), key), None)

    def bump(self, namespace) -> None:
        with self._lock:
            self._versions[namespace] = self._versions.get(namespace, 0) + 1

    def unlink(self, namespace, pattern) -> int:
        with self._lock:
            version = self._versions.get(namespace, 0)
            doomed = [k for k in list(self._entries)
                      if k[0] == namespace and k[1] == version and fnmatch.fnmatchcase(k[2], pattern)]
            for k in doomed:
                self._entries.pop(k, None)
        return len(doomed)

    def ping(self, _namespace=None) -> bool:
        return False  # asked only when Redis failed: the memory tier cannot vouch for it

    def add_count(self, namespace, field, n=1) -> None:
        with self._lock:
            self._counts[namespace][field] += n

    def take_counts(self) -> dict[str, Counter]:
        with self._lock:
            counts, self._counts = self._counts, defaultdict(Counter)
        return counts

    def stats(self, unflushed: dict[str, Counter]) -> dict[str, Counter]:
        with self._lock:
            for namespace, counter in unflushed.items():
                self._counts[namespace].update(counter)
            return {namespace: Counter(counter) for namespace, counter in self._counts.items()}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)




class RedisTier:
    """The shared tier: every worker and machine sees the same entries, versions, leases and counters."""

    name = "redis"

    def __init__(self, client: redis.Redis, prefix: str):
        self.client = client
        self._prefix = prefix
        self._stats_key = prefix + "_stats"
        self._lookup = self.client.register_script(LOOKUP)
        self._store = self.client.register_script(STORE)
        self._release = self.client.register_script(RELEASE)
        self._delete = self.client.register_script(DELETE)

    def _keys(self, namespace):
        return f"{self._prefix}_ver:{namespace}", f"{self._prefix}{namespace}:v", f"{self._prefix}_lease:{namespace}:v"

    def lookup(self, namespace, key, now, count, lease, lease_ms) -> Lookup:
        version_key, base, lease_base = self._keys(namespace)
        version, status, text, leased = self._lookup(
            keys=[version_key, self._stats_key],
            args=[base, ":" + key, now, namespace + ":" if count else "", lease_base if lease else "", lease or "",
                  lease_ms])
        return Lookup(self.name, int(version), status.decode(), text, bool(leased), lease if leased else "")

    def store(self, namespace, key, text, stored_at, ttl, stale_ttl, at: Lookup | None) -> None:
        version_key, base, lease_base = self._keys(namespace)
        own = at is not None and at.tier == self.name
        lease = own and at.leased
        self._store(keys=[version_key], args=[
            base, ":" + key, at.version if own else "", text, (ttl + stale_ttl) * 1000,
            lease_base if lease else "", at.token if lease else ""])

    def release(self, namespace, key, at: Lookup) -> None:
        if at.tier == self.name and at.leased:
            self._release(keys=[f"{self._keys(namespace)[2]}{at.version}:{key}"], args=[at.token])

    def delete(self, namespace, key) -> None:
        version_key, base, _ = self._keys(namespace)
        self._delete(keys=[version_key], args=[base, ":" + key])

    def bump(self, namespace) -> None:
        self.client.incr(self._keys(namespace)[0])

    def unlink(self, namespace, pattern) -> int:
        """SCAN MATCH + UNLINK in batches, over the current version only (older ones are unreachable)."""
        version_key, base, _ = self._keys(namespace)
        version = int(self.client.get(version_key) or 0)
        removed, batch = 0, []
        for name in self.client.scan_iter(match=f"{_glob_escape(base)}{version}:{pattern}", count=SCAN_BATCH):
            batch.append(name)
            if len(batch) == SCAN_BATCH:
                removed += self.client.unlink(*batch)
                batch = []
        if batch:
            removed += self.client.unlink(*batch)
        return removed

    def ping(self, _namespace=None) -> bool:
        return self.client.ping()

    def add_count(self, namespace, field, n=1) -> None:
        self.client.hincrby(self._stats_key, f"{namespace}:{field}", n)

    def stats(self, unflushed: dict[str, Counter]) -> dict[str, Counter]:
        pipe = self.client.pipeline(transaction=False)
        for namespace, counter in unflushed.items():
            for field, n in counter.items():
                if n:
                    pipe.hincrby(self._stats_key, f"{namespace}:{field}", n)
        pipe.hgetall(self._stats_key)
        fields = pipe.execute()[-1]
        counts: defaultdict[str, Counter] = defaultdict(Counter)
        for name, n in fields.items():
            namespace, _, field = name.decode().rpartition(":")
            counts[namespace][field] = int(n)
        return counts


_INVALIDATING = frozenset({"delete", "bump", "unlink"})


class Store:
    """Redis while it answers, the memory tier otherwise; one log line per switch, not per call."""

    def __init__(self, memory: MemoryTier, shared: RedisTier | None, breaker: RedisBreaker | None = None):
        self.memory = memory
        self.redis = shared
        self.breaker = breaker or RedisBreaker()
        # Namespaces changed while Redis was down: bumped in Redis once it is back, so entries the
        # outage could not delete or invalidate there are not served again.
        self._pending: set[str] = set()

    def backend(self) -> str:
        if self.redis is None:
            return "memory"
        return "redis" if self.breaker.up else "memory (redis down)"

    def call(self, operation: str, namespace, *args):
        mode = self.breaker.allow() if self.redis is not None else SKIP
        if mode != SKIP:
            try:
                result = getattr(self.redis, operation)(namespace, *args)
            except (redis.RedisError, OSError) as exc:
                self._failed(mode, exc, operation)
            else:
                if self.breaker.succeeded(mode):
                    self._came_back()
                return result
        if self.redis is not None and operation in _INVALIDATING:
            self._pending.add(namespace)
        return getattr(self.memory, operation)(namespace, *args)

    def stats(self) -> dict[str, Counter]:
        return self.call("stats", self.memory.take_counts())

    def ping(self) -> bool:
        if self.redis is None:
            return True
        return self.call("ping", None) is True

    def _failed(self, mode: int, exc: Exception, operation: str) -> None:
        if self.breaker.failed(mode):
            self.memory.clear()  # entries left from an earlier outage may have been changed in Redis since
            log.warning("redis down: serving the cache from memory", extra={
                "error": type(exc).__name__, "operation": operation, "retry_in_s": self.breaker.COOL_OFF_S})
        elif mode == PROBE:
            log.debug("redis probe failed", extra={"error": type(exc).__name__})

    def _came_back(self) -> None:
        pending, self._pending = self._pending, set()
        counts = self.memory.take_counts()
        try:
            for namespace in pending:
                self.redis.bump(namespace)
            self.redis.stats(counts)  # what was counted during the outage joins the shared counters
        except (redis.RedisError, OSError):
            self._pending |= pending  # tried again after the next outage; the breaker will notice this one
            self.memory.stats(counts)
        self.memory.clear()
        log.info("redis up: cache back on redis", extra={
            "down_s": round(self.breaker.last_outage_s, 3), "namespaces_invalidated": sorted(pending)})

    def close(self) -> None:
        """Nothing to free: the Redis client belongs to the process (services.redis_connection)."""
