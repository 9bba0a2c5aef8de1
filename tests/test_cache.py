"""The cache, against the real Redis (DB 15, a fresh key prefix per test), Redis servers the tests start and
kill or freeze themselves, and the memory tier. Time-dependent behaviour runs on a fake clock; only the
outage and recovery tests use real time, bounded."""
from __future__ import annotations

import ast
import hashlib
import json
import socket
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis as redis_lib
from flask import make_response, render_template_string, session

import view_helpers
from services import cache
from services.cache_breaker import PROBE, SKIP, USE, RedisBreaker
from tests.conftest import FakeClock, skip_or_fail

REDIS_URL = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parent.parent


def calls_of(client, *commands: str) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in commands}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def prefix():
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
def raw(prefix):
    """A plain client on the shared Redis (DB 15); this test's keys are removed afterwards."""
    client = redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=5)
    try:
        client.ping()
    except redis_lib.RedisError as exc:
        client.close()
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    yield client
    names = list(client.scan_iter(match=prefix + "*", count=500))
    for start in range(0, len(names), 500):
        client.unlink(*names[start:start + 500])
    client.close()


@pytest.fixture(params=["memory", "redis"])
def mode(request):
    return request.param


@pytest.fixture
def cache_factory(make_app, prefix):
    """Build Cache instances from an app's config (REDIS_URL from the environment, as in production)."""
    built = []

    def build(url=None, clock=None, **overrides):
        app = make_app({"REDIS_URL": url} if url else {}, migrate=False, CACHE_KEY_PREFIX=prefix, **overrides)
        instance = cache.Cache.from_app(app, clock=clock or time.time)
        built.append(instance)
        return instance

    yield build
    for instance in built:
        instance.close()


@pytest.fixture
def caches(cache_factory, mode, request):
    """Caches of the test's mode; in Redis mode, two of them act as two workers sharing Redis."""
    url = None
    if mode == "redis":
        request.getfixturevalue("raw")
        url = REDIS_URL
    return lambda clock=None, **overrides: cache_factory(url, clock, **overrides)


@pytest.fixture
def redis_caches(cache_factory, raw):
    return lambda clock=None, **overrides: cache_factory(REDIS_URL, clock, **overrides)


# --- basics, both tiers ---------------------------------------------------------------------------------------

def test_get_set_delete_and_counters(caches):
    store = caches()
    assert store.get("procs", "a") is None
    store.set("procs", "a", {"n": 1, "name": "João"})
    entry = store.get("procs", "a")
    assert entry.value == {"n": 1, "name": "João"} and entry.fresh and entry.age_s < 1
    store.delete("procs", "a")
    assert store.get("procs", "a") is None
    assert store.stats()["procs"] == {"hits": 1, "misses": 2, "stale_hits": 0, "errors": 0, "evictions": 0,
                                      "hit_rate": 1 / 3}


def test_fresh_then_stale_then_gone_on_the_clock(caches, mode, prefix, request):
    clock = FakeClock()
    store = caches(clock)
    store.set("procs", "a", "v", ttl=10, stale_ttl=20)
    clock.advance(9.9)
    assert store.get("procs", "a").fresh
    clock.advance(0.2)
    entry = store.get("procs", "a")
    assert entry.value == "v" and not entry.fresh and entry.age_s == pytest.approx(10.1)
    clock.advance(19.8)
    assert not store.get("procs", "a").fresh
    clock.advance(0.2)
    assert store.get("procs", "a") is None
    assert store.stats()["procs"] | {"hit_rate": None} == {
        "hits": 1, "misses": 1, "stale_hits": 2, "errors": 0, "evictions": 0, "hit_rate": None}
    if mode == "redis":  # Redis expires the key itself after ttl + stale_ttl
        assert 29_000 < request.getfixturevalue("raw").pttl(f"{prefix}procs:v0:a") <= 30_000


def test_default_ttl_comes_from_the_config(caches):
    clock = FakeClock()
    store = caches(clock, CACHE_DEFAULT_TTL=50)
    store.set("procs", "a", 1)
    clock.advance(49)
    assert store.get("procs", "a").fresh
    clock.advance(2)
    assert store.get("procs", "a") is None


def test_bad_namespace_or_windows_are_refused(caches):
    store = caches()
    for namespace in ("", "a:b", "has space", "_meta", "x" * 65):
        with pytest.raises(ValueError):
            store.get(namespace, "k")
    with pytest.raises(ValueError):
        store.set("procs", "k", 1, ttl=0)
    with pytest.raises(ValueError):
        store.set("procs", "k", 1, stale_ttl=-1)


def test_values_are_json_only(caches, mode, prefix, request):
    store = caches()
    for value in (object(), {1, 2}, b"bytes"):
        with pytest.raises(TypeError):
            store.set("procs", "a", value)
    assert store.get("procs", "a") is None  # nothing was written
    with pytest.raises(TypeError):
        store.get_or_load("procs", "b", object)
    assert store.get_or_load("procs", "b", lambda: "ok").source == "loader"  # the failed load left no lease
    store.set("procs", "t", (1, "é"), ttl=60, stale_ttl=5)
    assert store.get("procs", "t").value == [1, "é"]
    if mode == "redis":
        stored = request.getfixturevalue("raw").get(f"{prefix}procs:v0:t")
        envelope = json.loads(stored)
        assert list(envelope) == ["stored_at", "ttl", "stale_ttl", "value"]
        assert (envelope["ttl"], envelope["stale_ttl"], envelope["value"]) == (60, 5, [1, "é"])
    for module in ("services/cache.py", "services/cache_store.py", "services/cache_breaker.py"):
        tree = ast.parse((ROOT / module).read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                    for alias in node.names} | {node.module for node in ast.walk(tree)
                                                if isinstance(node, ast.ImportFrom)}
        assert not imported & {"pickle", "cPickle", "marshal", "shelve", "dill"}


def test_keys_are_versioned_and_long_or_spaced_keys_hashed(caches, mode, prefix, request):
    store = caches()
    long_key, spaced_key = "k" * 201, "a b"
    for key in ("short", long_key, spaced_key):
        store.set("procs", key, key)
        assert store.get("procs", key).value == key
    if mode == "redis":
        client = request.getfixturevalue("raw")
        assert client.exists(f"{prefix}procs:v0:short")
        for key in (long_key, spaced_key):
            assert client.exists(f"{prefix}procs:v0:{hashlib.sha256(key.encode()).hexdigest()[:32]}")
        store.invalidate_namespace("procs")
        store.set("procs", "short", 2)
        assert client.exists(f"{prefix}procs:v1:short")


def test_memory_tier_is_bounded_and_counts_evictions(caches, mode):
    store = caches(CACHE_MEMORY_MAX_ENTRIES=100)
    for i in range(100):
        store.set("procs", str(i), i)
    assert store.get("procs", "0").value == 0  # recently used: survives the evictions below
    for i in range(100, 150):
        store.set("procs", str(i), i)
    evictions = store.stats()["procs"]["evictions"]
    if mode == "memory":
        assert evictions == 50
        assert store.get("procs", "0").value == 0 and store.get("procs", "1") is None
    else:
        assert evictions == 0  # Redis's own evictions are server-wide, not per namespace
        assert store.get("procs", "1").value == 1


# --- stale-while-revalidate, stale-if-error, single flight ----------------------------------------------------

def test_stale_while_revalidate_serves_stale_while_one_refresh_runs(caches, mode):
    clock = FakeClock()
    store = caches(clock)
    workers = [store, caches(clock)] if mode == "redis" else [store]
    store.set("procs", "a", "old", ttl=10, stale_ttl=60)
    clock.advance(15)
    calls, running, finish = [], threading.Event(), threading.Event()

    def loader():
        calls.append(1)
        running.set()
        finish.wait(5)
        return "new"

    with ThreadPoolExecutor(20) as pool:
        refresh = pool.submit(store.get_or_load, "procs", "a", loader, 10, 60)
        assert running.wait(5)
        others = [pool.submit(workers[i % len(workers)].get_or_load, "procs", "a", loader, 10, 60)
                  for i in range(19)]
        served = [future.result(timeout=5) for future in others]
        finish.set()
        refreshed = refresh.result(timeout=5)
    assert len(calls) == 1
    assert (refreshed.value, refreshed.fresh, refreshed.source) == ("new", True, "loader")
    assert all(r.value == "old" and r.stale and not r.fresh and r.source == "stale" and r.age_s == 15
               for r in served)
    for worker in workers:
        entry = worker.get("procs", "a")
        assert (entry.value, entry.fresh) == ("new", True)


def test_stale_if_error_then_the_error_once_the_window_is_over(caches):
    clock = FakeClock()
    store = caches(clock)
    store.set("procs", "a", "old", ttl=10, stale_ttl=60)
    clock.advance(15)

    def failing():
        raise RuntimeError("dependency down")

    result = store.get_or_load("procs", "a", failing, ttl=10, stale_ttl=60)
    assert (result.value, result.fresh, result.stale, result.source) == ("old", False, True, "stale")
    assert store.stats()["procs"]["errors"] == 1
    assert store.get_or_load("procs", "a", lambda: "new", 10, 60).source == "loader"  # lease was released
    clock.advance(100)
    with pytest.raises(RuntimeError, match="dependency down"):
        store.get_or_load("procs", "a", failing, ttl=10, stale_ttl=60)
    assert store.stats()["procs"]["errors"] == 2


def _stampede(workers, loader, threads=100, **kwargs):
    barrier = threading.Barrier(threads)

    def call(i):
        barrier.wait()
        return workers[i % len(workers)].get_or_load("procs", "cold", loader, **kwargs)

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(call, i) for i in range(threads)]
        return [future.exception(timeout=10) or future.result() for future in futures]


def _counted_loader(calls, value=None, error=None, seconds=0.2):
    lock = threading.Lock()

    def loader():
        with lock:
            calls.append(1)
        time.sleep(seconds)
        if error:
            raise error
        return value

    return loader


def test_one_hundred_concurrent_misses_run_the_loader_once(caches):
    store, calls = caches(), []
    results = _stampede([store], _counted_loader(calls, {"n": 42}))
    assert len(calls) == 1
    assert all(r.value == {"n": 42} and r.fresh for r in results)
    assert Counter(r.source for r in results)["loader"] == 1
    counts = store.stats()["procs"]
    assert counts["hits"] + counts["misses"] == 100


def test_two_workers_sharing_redis_run_the_loader_once(redis_caches):
    workers, calls = [redis_caches(), redis_caches()], []
    results = _stampede(workers, _counted_loader(calls, "value"))
    assert len(calls) == 1
    assert all(r.value == "value" for r in results)


def test_a_failed_load_reaches_every_waiter_once(caches):
    store, calls = caches(), []
    results = _stampede([store], _counted_loader(calls, error=LookupError("boom"), seconds=0.1), threads=20)
    assert len(calls) == 1
    assert all(isinstance(r, LookupError) for r in results)
    assert store.stats()["procs"]["errors"] == 1


def test_a_waiter_gives_up_at_its_deadline(caches, mode):
    first = caches()
    second = caches() if mode == "redis" else first
    running, finish = threading.Event(), threading.Event()

    def slow():
        running.set()
        finish.wait(5)
        return "v"

    with ThreadPoolExecutor(1) as pool:
        loading = pool.submit(first.get_or_load, "procs", "k", slow)
        assert running.wait(5)
        started = time.monotonic()
        with pytest.raises(cache.CacheLoadTimeout):
            second.get_or_load("procs", "k", slow, deadline_s=0.1)
        assert time.monotonic() - started < 4  # gave up at its deadline, not after the 5 s loader
        finish.set()
        assert loading.result(timeout=5).value == "v"
    assert second.get("procs", "k").value == "v"
    assert second.stats()["procs"]["errors"] == 1


def test_a_waiter_takes_over_the_lease_of_a_worker_that_died_loading(caches, mode):
    if mode != "redis":
        pytest.skip("one process: its threads wait on the loader itself, there is no lease to outlive it")
    holder, waiter = caches(), caches()
    running, killed = threading.Event(), threading.Event()

    def dies():  # holds the lease and never stores nor releases it, as a SIGKILLed worker
        running.set()
        killed.wait(10)
        raise SystemExit

    with ThreadPoolExecutor(1) as pool:
        dying = pool.submit(holder.get_or_load, "procs", "k", dies, deadline_s=1.5)
        assert running.wait(5)
        started = time.monotonic()
        result = waiter.get_or_load("procs", "k", lambda: "fetched again", deadline_s=1.5)
        assert (result.value, result.source) == ("fetched again", "loader")
        assert time.monotonic() - started < 1.5  # within its deadline, once the dead holder's lease ran out
        killed.set()
        with pytest.raises(SystemExit):
            dying.result(timeout=5)


# --- invalidation ---------------------------------------------------------------------------------------------

@pytest.fixture
def counted(cache_factory, mode, request):
    """Caches of the test's mode and, in Redis mode, a plain client to count commands with: on a redis-server
    of the test's own, since the command counts are the whole server's (other tests, other suites)."""
    if mode == "memory":
        yield (lambda: cache_factory(None)), None
        return
    server = request.getfixturevalue("own_redis")
    client = redis_lib.Redis.from_url(server.url)
    yield (lambda: cache_factory(server.url)), client
    client.close()


def test_namespace_invalidation_is_one_command_and_touches_nothing_else(counted, prefix):
    caches, client = counted
    store = caches()
    store.set("procs", "a", 1)
    store.set("procs", "b", 2)
    store.set("pages", "a", 3)
    if client:
        client.set(f"{prefix}LIMITER:x", "7")
        before = calls_of(client, "incrby", "scan", "keys", "del", "unlink", "flushdb", "flushall")
    store.invalidate_namespace("procs")
    assert store.get("procs", "a") is None and store.get("procs", "b") is None
    assert store.get("pages", "a").value == 3
    if client:
        after = calls_of(client, "incrby", "scan", "keys", "del", "unlink", "flushdb", "flushall")
        assert after["incrby"] > before["incrby"]  # redis-py sends INCR as INCRBY
        assert {k: after[k] - before[k] for k in after if k != "incrby"} == dict.fromkeys(after.keys() - {"incrby"}, 0)
        assert client.get(f"{prefix}LIMITER:x") == b"7"
        assert client.exists(f"{prefix}procs:v0:a")  # not deleted: unreachable, it expires on its own
        other_worker = caches()
        assert other_worker.get("procs", "b") is None and other_worker.get("pages", "a").value == 3


def test_pattern_invalidation_scans_and_unlinks_in_batches(counted, prefix):
    caches, client = counted
    store = caches()
    for i in range(1200):
        store.set("procs", f"p:{i}", i)
    store.set("procs", "other:1", "x")
    store.set("pages", "p:1", "y")
    if client:
        client.set(f"{prefix}LIMITER:x", "7")
        before = calls_of(client, "scan", "unlink", "keys", "flushdb", "flushall")
    assert store.invalidate_pattern("procs", "p:*") == 1200
    assert store.get("procs", "p:5") is None and store.get("procs", "p:1199") is None
    assert store.get("procs", "other:1").value == "x" and store.get("pages", "p:1").value == "y"
    if client:
        after = calls_of(client, "scan", "unlink", "keys", "flushdb", "flushall")
        assert after["scan"] > before["scan"] and after["unlink"] - before["unlink"] >= 3  # 1200 keys, 500 a batch
        assert (after["keys"], after["flushdb"], after["flushall"]) == (
            before["keys"], before["flushdb"], before["flushall"])
        assert client.get(f"{prefix}LIMITER:x") == b"7"


# --- statistics -----------------------------------------------------------------------------------------------

def test_statistics_are_exact_across_two_workers(redis_caches):
    first, second = redis_caches(), redis_caches()
    first.set("procs", "a", 1)
    for i in range(30):
        (first if i % 2 else second).get("procs", "a")
    for i in range(20):
        (first if i % 2 else second).get("procs", f"missing-{i}")
    second.get_or_load("procs", "b", lambda: 1)
    first.get_or_load("procs", "b", lambda: 1)
    with pytest.raises(ZeroDivisionError):
        first.get_or_load("procs", "c", lambda: 1 / 0)
    expected = {"hits": 31, "misses": 22, "stale_hits": 0, "errors": 1, "evictions": 0, "hit_rate": 31 / 53}
    assert first.stats()["procs"] == expected
    assert second.stats()["procs"] == expected


# --- Redis failures -------------------------------------------------------------------------------------------

def test_the_redis_client_gives_up_fast(redis_caches):
    pool = redis_caches()._store.redis.client.connection_pool
    assert pool.connection_kwargs["socket_timeout"] == 0.1
    assert pool.connection_kwargs["socket_connect_timeout"] == 0.1
    assert 0 < pool.connection_kwargs["health_check_interval"] <= 5
    connection = pool.make_connection()
    try:
        assert connection.retry.get_retries() == 0
    finally:
        connection.disconnect()


def test_breaker_rule_on_a_fake_clock():
    clock = FakeClock(100.0)
    breaker = RedisBreaker(clock)
    assert breaker.allow() == USE
    assert breaker.failed(USE)  # never succeeded: the first failure is enough
    assert breaker.allow() == SKIP
    for cool_off in (1, 2, 4, 5, 5):
        clock.advance(cool_off - 0.01)
        assert breaker.allow() == SKIP
        clock.advance(0.01)
        assert breaker.allow() == PROBE
        assert breaker.allow() == SKIP  # one probe at a time
        assert not breaker.failed(PROBE)
    clock.advance(5)
    assert breaker.allow() == PROBE
    assert breaker.succeeded(PROBE) and breaker.up
    assert not breaker.failed(USE) and not breaker.failed(USE)  # a recent success: three failures needed
    assert breaker.succeeded(USE) is False  # a success resets the count
    assert not breaker.failed(USE) and not breaker.failed(USE) and breaker.failed(USE)
    clock.advance(1)
    assert breaker.allow() == PROBE and breaker.succeeded(PROBE)
    clock.advance(1.5)
    assert breaker.failed(USE)  # the last success is more than 1 s old


def _operations(store, i, done):
    """One set, get and get_or_load; all must succeed. How long they take is bench/cache_bench.py's outage rows."""
    for operation in (lambda: store.set("procs", f"k{i}", i), lambda: store.get("procs", f"k{i}"),
                      lambda: store.get_or_load("procs", f"l{i}", lambda: i)):
        result = operation()
        done.append(operation)
        if result is not None:
            assert result.value == i


class _CountedTier:
    """The cache's Redis tier, counting the operations sent to it (a probe or a call while Redis is trusted)."""

    def __init__(self, tier):
        self.tier, self.calls = tier, 0

    def __getattr__(self, name):
        attribute = getattr(self.tier, name)
        if name == "client" or not callable(attribute):
            return attribute

        def counted(*args, **kwargs):
            self.calls += 1
            return attribute(*args, **kwargs)

        return counted


def _count_redis_calls(store) -> _CountedTier:
    counted = _CountedTier(store._store.redis)
    store._store.redis = counted
    return counted


def _until_redis_is_used_again(store, limit_s=5.5) -> float:
    started = time.monotonic()
    while store.backend() != "redis":
        assert time.monotonic() - started < limit_s, "Redis was not used again within 5 s"
        store.get("procs", "probe")
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
def quick_probes(monkeypatch):
    """The cache's Redis breaker probes after 0.2 s (doubling up to 1 s) instead of 1 s (up to 5 s): the same
    rule, on a scale the outage tests can wait out quickly."""
    monkeypatch.setattr(RedisBreaker, "COOL_OFF_S", 0.2)
    monkeypatch.setattr(RedisBreaker, "MAX_COOL_OFF_S", 1.0)


def test_killed_redis_the_memory_tier_serves_and_redis_returns(cache_factory, own_redis, prefix, quick_probes):
    store = cache_factory(own_redis.url)
    store.set("procs", "before", "x")
    assert store.get("procs", "before").value == "x" and store.backend() == "redis"
    own_redis.kill()
    redis_calls = _count_redis_calls(store)
    done: list = []
    for i in range(200):
        _operations(store, i, done)
    assert store.backend() == "memory (redis down)"
    # 600 operations served from memory; Redis was asked only until the breaker tripped, then by its probes.
    assert len(done) == 600 and redis_calls.calls <= 10
    assert store.ping() is False
    own_redis.start()
    assert _until_redis_is_used_again(store) <= 5.5
    store.set("procs", "after", "y")
    client = redis_lib.Redis.from_url(own_redis.url)
    try:
        assert client.exists(f"{prefix}procs:v0:after")
    finally:
        client.close()
    assert store.ping() is True


def test_frozen_redis_costs_at_most_a_few_timeouts_then_nothing(cache_factory, own_redis, prefix, quick_probes):
    store = cache_factory(own_redis.url)
    store.set("procs", "before", "x")
    assert store.get("procs", "before").value == "x"
    own_redis.pause()  # accepts connections, answers nothing: every call times out
    tripping: list = []
    while store.backend() == "redis":
        _operations(store, 0, tripping)
        assert len(tripping) <= 3  # at most a few timeouts (no client retries), then the breaker trips
    store.invalidate_namespace("procs")  # remembered, and replayed in Redis once it is back
    redis_calls = _count_redis_calls(store)
    done: list = []
    for i in range(200):  # over ~0.6 s, so probes after the 0.2 s cool-off are among them
        _operations(store, i, done)
        time.sleep(0.003)
    assert len(done) == 600 and 1 <= redis_calls.calls <= 10  # only the breaker's probes wait on Redis
    own_redis.resume()
    assert _until_redis_is_used_again(store) <= 5.5
    client = redis_lib.Redis.from_url(own_redis.url)
    try:
        assert client.exists(f"{prefix}procs:v0:before")
        assert store.get("procs", "before") is None  # the invalidation made during the outage reached Redis
    finally:
        client.close()


def test_blackholed_redis_from_the_start(cache_factory):
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)  # never accepted: the first connection hangs, later ones are not even answered
    try:
        store = cache_factory(f"redis://127.0.0.1:{hole.getsockname()[1]}/0")
        redis_calls = _count_redis_calls(store)
        done: list = []
        for i in range(70):
            _operations(store, i, done)
        assert store.backend() == "memory (redis down)"
        assert len(done) == 210 and redis_calls.calls <= 5  # one timeout trips it; then memory alone
    finally:
        hole.close()


# --- decorators and the app -----------------------------------------------------------------------------------

@pytest.fixture
def app_with_cache(make_app, mode, prefix, request):
    env = {}
    if mode == "redis":
        request.getfixturevalue("raw")
        env["REDIS_URL"] = REDIS_URL
    app = make_app(env, migrate=False, CACHE_KEY_PREFIX=prefix)
    if "cache" not in app.extensions:
        cache.init_app(app)
    yield app
    app.extensions["cache"].close()


def test_init_app_and_current(app_with_cache, mode):
    with app_with_cache.app_context():
        assert cache.current() is app_with_cache.extensions["cache"]
        assert cache.current().backend() == mode
        assert cache.current().ping() is True


def test_cached_and_invalidates_decorators(app_with_cache):
    calls = []

    @cache.cached("squares", ttl=60)
    def square(n):
        calls.append(n)
        return n * n

    @cache.cached("squares", key=lambda n: f"cube:{n}")
    def cube(n):
        calls.append(-n)
        return n ** 3

    @cache.invalidates("squares")
    def change(fail=False):
        if fail:
            raise ValueError("no change")
        return "changed"

    with app_with_cache.app_context():
        assert [square(3), square(3), square(4), cube(2), cube(2)] == [9, 9, 16, 8, 8]
        assert calls == [3, 4, -2]
        with pytest.raises(ValueError):
            change(fail=True)
        assert square(3) == 9 and calls == [3, 4, -2]  # nothing was invalidated
        assert change() == "changed"
        assert square(3) == 9 and calls == [3, 4, -2, 3]
        with pytest.raises(TypeError, match="key="):
            square(object())
        assert square.uncached(5) == 25


@pytest.fixture
def page_app(app_with_cache):
    app, calls = app_with_cache, Counter()

    def counted(name, body="<p>{n}</p>"):
        calls[name] += 1
        return body.format(n=calls[name])

    def public():
        return counted("public")

    def sets_cookie():
        response = make_response(counted("cookie"))
        response.set_cookie("pref", "1")
        return response

    def reads_session():
        session.get("user")
        return counted("session")

    def private():
        response = make_response(counted("private"))
        response.headers["Cache-Control"] = "private, max-age=60"
        return response

    def with_csrf():
        calls["csrf"] += 1
        return render_template_string("<input value='{{ csrf_token() }}'>")

    def missing():
        return counted("missing"), 404

    for name, view in (("public", public), ("cookie", sets_cookie), ("session", reads_session),
                       ("private", private), ("csrf", with_csrf), ("missing", missing)):
        app.add_url_rule(f"/t/{name}", f"t_{name}", view_helpers.cached_page(ttl=60)(view))
    return app, calls


def test_cached_page_serves_one_body_to_anonymous_visitors(page_app):
    app, calls = page_app
    first, second = app.test_client().get("/t/public"), app.test_client().get("/t/public")
    assert first.data == second.data == b"<p>1</p>" and calls["public"] == 1
    assert second.mimetype == "text/html" and second.headers["X-Content-Type-Options"] == "nosniff"
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    with app.app_context():
        assert cache.current().stats()["pages"]["hits"] == 1


def test_cached_page_key_holds_the_sorted_query_string(page_app):
    app, calls = page_app
    client = app.test_client()
    assert client.get("/t/public?b=2&a=1").data == b"<p>1</p>"
    assert client.get("/t/public?a=1&b=2").data == b"<p>1</p>"
    assert client.get("/t/public?a=2").data == b"<p>2</p>"
    assert client.get("/t/public").data == b"<p>3</p>"
    assert calls["public"] == 3


def test_cached_page_skips_visitors_with_a_session_cookie(page_app):
    app, calls = page_app
    assert app.test_client().get("/t/public").data == b"<p>1</p>"
    member = app.test_client()
    member.set_cookie(app.config["SESSION_COOKIE_NAME"], "someone")
    assert member.get("/t/public").data == b"<p>2</p>"  # not served from the cache
    assert app.test_client().get("/t/public").data == b"<p>1</p>"  # and not stored from it
    assert calls["public"] == 2


@pytest.mark.parametrize("name", ["cookie", "session", "private", "csrf", "missing"])
def test_cached_page_never_stores_personal_or_failed_responses(page_app, name):
    app, calls = page_app
    bodies = [app.test_client().get(f"/t/{name}").data for _ in range(2)]
    assert calls[name] == 2
    if name == "csrf":
        assert bodies[0] != bodies[1]  # each visitor has a token of their own
