"""The portal's cache: Redis shared by every worker, a bounded memory tier when Redis is absent or down.

    from services import cache
    result = cache.current().get_or_load("processes", cnj, lambda: provider.fetch(cnj), ttl=3600, stale_ttl=86400)

- Values are JSON (no pickle): what `json.dumps` refuses is a TypeError, and values come back as JSON
  gives them (tuples as lists, dict keys as strings).
- An entry is fresh for `ttl` seconds, then stale for `stale_ttl` more. A stale entry is served at
  once while one caller refreshes it (stale-while-revalidate: the refresh runs inline in the caller
  that wins the key's lease, so the loader keeps its app context and database session), and when
  the refresh fails (stale-if-error).
- Single flight: concurrent misses of one key run the loader once across every worker: one thread
  per process takes part (a per-key flight), and one process wins the Redis lease (SET NX PX with a
  random token, released by compare-and-delete). Everyone else waits up to `deadline_s`. A failed
  load reaches the threads waiting in its process; a worker waiting in another process then takes
  the released lease and tries once itself.
- Invalidation bumps a namespace version (O(1)) or deletes by pattern with SCAN + UNLINK; never
  KEYS or FLUSHDB: the same Redis holds rate limits, breaker state and sessions.
- A Redis failure never fails a call: see services.cache_store (short timeouts, no client retries,
  a breaker that switches to the memory tier and back).
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from cachetools import TTLCache
from flask import current_app

from services import redis_connection
from services.cache_store import COUNTERS, Lookup, MemoryTier, RedisTier, Store
from services.monitoring import metrics

log = logging.getLogger("portal.cache")
RECENT_TTL_S = 1.0
RECENT_MAX_ENTRIES = 2048

_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_WHITESPACE = re.compile(r"\s")
MAX_KEY_CHARS = 200
POLL_FIRST_S = 0.005  # a waiting worker polls Redis for the loaded value: 5 ms, growing to 50 ms
POLL_MAX_S = 0.05
# A lease ends this long before the deadline of the callers waiting on it: when its holder dies mid-load (a worker
# killed), a caller that began waiting just after it took the lease still sees it expire, takes it and loads,
# instead of giving up in the same instant (its last poll up to POLL_MAX_S before the lease's end).
LEASE_MARGIN_S = 0.25


class CacheLoadTimeout(TimeoutError):
    """No value for a missing key arrived within the caller's deadline (another caller is loading it)."""


class Entry(NamedTuple):
    value: Any
    fresh: bool
    age_s: float


class Result(NamedTuple):
    value: Any
    fresh: bool
    stale: bool
    age_s: float
    source: str  # "cache", "loader" (this call ran the loader) or "stale"


class _Flight:
    """One load of one key in this process; the threads that missed the same key wait on it."""

    __slots__ = ("done", "error", "result")

    def __init__(self):
        self.done = threading.Event()
        self.result: Result | None = None
        self.error: BaseException | None = None


def _namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"cache namespace must match {_NAMESPACE.pattern}, got {namespace!r}")
    return namespace


def key_text(key) -> str:
    """The key as stored: its text, or the first 32 hex digits of its sha256 when long or spaced."""
    text = str(key)
    if len(text) > MAX_KEY_CHARS or _WHITESPACE.search(text):
        return hashlib.sha256(text.encode()).hexdigest()[:32]
    return text


def _envelope(value, stored_at: float, ttl: int, stale_ttl: int) -> str:
    # Field order matters: the Lua scripts read the header without decoding the value.
    return json.dumps({"stored_at": stored_at, "ttl": ttl, "stale_ttl": stale_ttl, "value": value},
                      separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class Cache:
    def __init__(self, *, redis_client=None, redis_url: str | None = None, key_prefix: str = "portal:v1:",
                 max_entries: int = 10_000, redis_timeout_ms: int = 100, default_ttl: int = 300,
                 clock: Callable[[], float] = time.time):
        """The shared tier is `redis_client` (the app's), or a client of its own for `redis_url` (benchmarks).

        `clock` gives the wall time entries are aged by (stored_at is shared between workers).
        """
        self._clock = clock
        self._default_ttl = default_ttl
        if redis_client is None and redis_url:
            redis_client = redis_connection.connect(redis_url, redis_timeout_ms / 1000)
        shared = RedisTier(redis_client, key_prefix) if redis_client is not None else None
        self._store = Store(MemoryTier(max_entries, clock), shared)
        self._flights: dict[tuple[str, str], _Flight] = {}
        self._flights_lock = threading.Lock()
        # This process's copies of the hottest values, kept a second: a page or a stored process asked many
        # times a second costs one Redis round trip a second, not one per request (see `recent`).
        self._recent: TTLCache = TTLCache(maxsize=RECENT_MAX_ENTRIES, ttl=RECENT_TTL_S, timer=time.monotonic)
        self._recent_lock = threading.Lock()

    @classmethod
    def from_app(cls, app, clock: Callable[[], float] = time.time) -> Cache:
        config = app.config
        return cls(redis_client=redis_connection.client(app), key_prefix=config["CACHE_KEY_PREFIX"],
                   max_entries=config["CACHE_MEMORY_MAX_ENTRIES"], default_ttl=config["CACHE_DEFAULT_TTL"],
                   clock=clock)

    def get(self, namespace: str, key: str) -> Entry | None:
        """The entry if fresh or stale (see Entry.fresh); None when missing or past its stale window."""
        now = self._clock()
        return self._entry(self._counted_lookup(_namespace(namespace), key_text(key), now), now)

    def set(self, namespace: str, key: str, value, ttl: int | None = None, stale_ttl: int = 0) -> None:
        """Store a JSON value, fresh for `ttl` s (CACHE_DEFAULT_TTL) and then stale for `stale_ttl` s."""
        self.forget_recent(namespace, key)
        self._put(_namespace(namespace), key_text(key), value, *self._windows(ttl, stale_ttl), at=None)

    def delete(self, namespace: str, key: str) -> None:
        self.forget_recent(namespace, key)
        self._store.call("delete", _namespace(namespace), key_text(key))

    def get_or_load(self, namespace: str, key: str, loader: Callable[[], Any], ttl: int | None = None,
                    stale_ttl: int = 0, deadline_s: float = 10.0) -> Result:
        """The cached value, or the loader's, run by one caller per key at a time across all workers.

        Fresh → from the cache. Stale → served at once, while the first caller to see it refreshes
        it inline (and gets the stale copy back if the loader fails). Missing → one caller loads;
        the others wait up to `deadline_s` for its value, then raise CacheLoadTimeout. Without a
        stale copy, the loader's own exception reaches the caller that ran it and those waiting.
        """
        namespace, key = _namespace(namespace), key_text(key)
        ttl, stale_ttl = self._windows(ttl, stale_ttl)
        now = self._clock()
        entry = self._entry(self._counted_lookup(namespace, key, now), now)
        if entry is not None and entry.fresh:
            return Result(entry.value, True, False, entry.age_s, "cache")
        with self._flights_lock:
            flight = self._flights.get((namespace, key))
            leader = flight is None
            if leader:
                flight = self._flights[(namespace, key)] = _Flight()
        if not leader:
            if entry is not None:  # this process is already refreshing it
                return Result(entry.value, False, True, entry.age_s, "stale")
            return self._await(flight, namespace, key, deadline_s)
        try:
            flight.result = self._lead(namespace, key, loader, ttl, stale_ttl, deadline_s)
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._flights_lock:
                del self._flights[(namespace, key)]
            flight.done.set()

    def recent(self, namespace: str, key: str) -> Any | None:
        """A value this process remembered with `remember` less than RECENT_TTL_S ago, or None.

        For values that are the same for everyone and may lag the shared cache by a second (a rendered page, a
        stored process): another worker's change, or an admin's clearing, reaches this process within that second.
        """
        with self._recent_lock:
            return self._recent.get((namespace, key))

    def held(self, namespace: str, key: str, convert: Callable[[Any], Any] = lambda value: value) -> Any | None:
        """A fresh entry's value (through `convert`), kept a second in this process (`recent`); None on a miss."""
        value = self.recent(namespace, key)
        if value is None:
            entry = self.get(namespace, key)
            if entry is None or not entry.fresh:
                return None
            value = convert(entry.value)
            self.remember(namespace, key, value)
        return value

    def remember(self, namespace: str, key: str, value: Any) -> None:
        with self._recent_lock:
            self._recent[(namespace, key)] = value

    def forget_recent(self, namespace: str, key: str | None = None) -> None:
        with self._recent_lock:
            if key is not None:
                self._recent.pop((namespace, key), None)
                return
            for item in [item for item in self._recent if item[0] == namespace]:
                del self._recent[item]

    def invalidate_namespace(self, namespace: str) -> None:
        """Make every entry of the namespace unreachable at once (its version is bumped; they expire later)."""
        self.forget_recent(namespace)
        self._store.call("bump", _namespace(namespace))
        log.info("cache namespace invalidated", extra={"namespace": namespace})

    def invalidate_pattern(self, namespace: str, pattern: str) -> int:
        """Delete the namespace's keys whose text matches a glob `pattern` (hashed keys cannot match).

        Redis: SCAN MATCH + UNLINK in batches of 500. Returns how many entries were removed.
        """
        removed = self._store.call("unlink", _namespace(namespace), pattern)
        log.info("cache pattern invalidated", extra={"namespace": namespace, "pattern": pattern, "removed": removed})
        return removed

    def stats(self) -> dict[str, dict]:
        """Per namespace: hits, misses, stale_hits, errors, evictions, hit_rate.

        Every lookup (get, get_or_load, a cached page) counts exactly once as a hit, a stale hit or a
        miss, so hits + misses + stale_hits is the number of lookups; errors counts loader failures
        (stale-if-error answers included) and load timeouts. hit_rate = hits / (hits + misses).
        With Redis the counters live in one hash (HINCRBY inside the lookup script), so they are the
        sum over every worker and machine; what a worker counted while Redis was down is added
        when it comes back. Evictions are the memory tier's capacity evictions; Redis reports its
        evicted_keys for the whole server, not per namespace, so Redis evictions are not counted.
        """
        result = {}
        for namespace, counts in sorted(self._store.stats().items()):
            row = {field: int(counts.get(field, 0)) for field in COUNTERS}
            looked_up = row["hits"] + row["misses"]
            row["hit_rate"] = row["hits"] / looked_up if looked_up else 0.0
            result[namespace] = row
        return result

    def backend(self) -> str:
        """ "redis", "memory" (no REDIS_URL) or "memory (redis down)"."""
        return self._store.backend()

    def ping(self) -> bool:
        """Cheap health probe: True without Redis; with it, a PING (False at once while marked down)."""
        return self._store.ping()

    def close(self) -> None:
        self._store.close()

    def _windows(self, ttl, stale_ttl) -> tuple[int, int]:
        ttl = self._default_ttl if ttl is None else ttl
        if not isinstance(ttl, int) or not isinstance(stale_ttl, int) or ttl < 1 or stale_ttl < 0:
            raise ValueError(f"ttl must be a whole number ≥ 1 and stale_ttl ≥ 0, got {ttl!r} and {stale_ttl!r}")
        return ttl, stale_ttl

    def _counted_lookup(self, namespace: str, key: str, now: float) -> Lookup:
        """A lookup that counts as one hit, stale hit or miss (in the store's stats and in Prometheus)."""
        found = self._store.call("lookup", namespace, key, now, True, None, 0)
        metrics.cache_event(namespace, found.status if found.text is not None else "miss")
        return found

    def _count_error(self, namespace: str) -> None:
        self._store.call("add_count", namespace, "errors")
        metrics.cache_event(namespace, "error")

    def _entry(self, found: Lookup, now: float) -> Entry | None:
        if found.text is None:
            return None
        try:
            envelope = json.loads(found.text)
            return Entry(envelope["value"], found.status == "fresh", max(0.0, now - envelope["stored_at"]))
        except (ValueError, KeyError, TypeError):
            log.error("cache entry is not a JSON envelope; ignored", extra={"tier": found.tier})
            return None

    def _put(self, namespace, key, value, ttl, stale_ttl, at: Lookup | None) -> None:
        stored_at = round(self._clock(), 3)
        text = _envelope(value, stored_at, ttl, stale_ttl)  # TypeError before anything is written
        self._store.call("store", namespace, key, text, stored_at, ttl, stale_ttl, at)

    def _lead(self, namespace, key, loader, ttl, stale_ttl, deadline_s) -> Result:
        """This process's one caller for the key: win the lease and load, or wait for another worker."""
        token, lease_ms = secrets.token_hex(16), max(1000, int((deadline_s - LEASE_MARGIN_S) * 1000))
        deadline, delay = time.monotonic() + deadline_s, POLL_FIRST_S
        while True:
            now = self._clock()
            found = self._store.call("lookup", namespace, key, now, False, token, lease_ms)
            entry = self._entry(found, now)
            if entry is not None and entry.fresh:  # loaded meanwhile, by another worker or thread
                return Result(entry.value, True, False, entry.age_s, "cache")
            if found.leased:
                return self._load(namespace, key, loader, ttl, stale_ttl, found, entry)
            if entry is not None:  # another worker refreshes it: serve the stale copy meanwhile
                return Result(entry.value, False, True, entry.age_s, "stale")
            if time.monotonic() + delay > deadline:
                self._count_error(namespace)
                raise CacheLoadTimeout(f"no value for {namespace}:{key} within {deadline_s:g} s")
            time.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX_S)

    def _load(self, namespace, key, loader, ttl, stale_ttl, lease: Lookup, stale: Entry | None) -> Result:
        stored = False
        try:
            try:
                value = loader()
            except Exception as exc:
                self._count_error(namespace)
                extra = {"namespace": namespace, "key": key, "error": type(exc).__name__}
                if stale is None:
                    log.warning("cache loader failed", extra=extra)
                    raise
                log.warning("cache loader failed; serving the stale copy", extra=extra)
                return Result(stale.value, False, True, stale.age_s, "stale")
            self._put(namespace, key, value, ttl, stale_ttl, at=lease)  # also releases the lease
            stored = True
            return Result(value, True, False, 0.0, "loader")
        finally:
            if not stored:
                self._store.call("release", namespace, key, lease)

    def _await(self, flight: _Flight, namespace, key, deadline_s) -> Result:
        if not flight.done.wait(deadline_s):
            self._count_error(namespace)
            raise CacheLoadTimeout(f"no value for {namespace}:{key} within {deadline_s:g} s")
        if flight.error is not None:
            raise flight.error
        result = flight.result
        return result._replace(source="cache") if result.source == "loader" else result


def init_app(app) -> None:
    """Build the app's cache from its config (REDIS_URL None → memory only)."""
    app.extensions["cache"] = Cache.from_app(app)


def current() -> Cache:
    return current_app.extensions["cache"]


def cached(namespace: str, ttl: int | None = None, stale_ttl: int = 0, key: Callable[..., str] | None = None):
    """Cache a function's JSON result under `key(*args, **kwargs)` (default: its name and JSON arguments)."""
    _namespace(namespace)

    def decorate(function):
        name = f"{function.__module__}.{function.__qualname__}"

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if key is not None:
                text = key(*args, **kwargs)
            else:
                try:
                    text = name + ":" + json.dumps([args, kwargs], sort_keys=True, separators=(",", ":"))
                except TypeError:
                    raise TypeError(f"@cached({namespace!r}) on {name}: arguments are not JSON; pass key=") from None
            loaded = current().get_or_load(namespace, text, lambda: function(*args, **kwargs), ttl, stale_ttl)
            return loaded.value

        wrapper.uncached = function
        return wrapper

    return decorate


def invalidates(*namespaces: str):
    """After the wrapped function returns (not when it raises), invalidate these namespaces."""
    for namespace in namespaces:
        _namespace(namespace)

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            result = function(*args, **kwargs)
            for namespace in namespaces:
                current().invalidate_namespace(namespace)
            return result

        return wrapper

    return decorate
