"""Cache figures on this machine: hit latency (Redis vs memory), a stampede, and what a Redis outage costs.

    .venv/bin/python bench/cache_bench.py                 (Redis at redis://127.0.0.1:6379/15)
    .venv/bin/python bench/cache_bench.py --redis-url redis://127.0.0.1:6379/15 --ops 20000

Uses services.cache directly (no Flask app, no HTTP): the figures are the cache's own cost per call.
Keys live under a random "bench:<hex>:" prefix and are removed afterwards with SCAN + UNLINK. The
outage rows start their own redis-server on a free port (killed, or frozen with SIGSTOP) and a
listening socket that never accepts (a blackholed Redis). Run by hand, not by the tests.
"""
from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from services.cache import Cache  # noqa: E402

# A process record of typical size: ~4 KB of JSON (parties, classes, 30 movements).
VALUE = {"cnj": "00012345620248080012", "class": {"code": 7, "name": "Procedimento Comum Cível"},
         "movements": [{"code": 85, "name": "Petição", "date": f"2026-03-{d:02d}T10:00:00"} for d in range(1, 31)],
         "subjects": [{"code": 10433, "name": "Indenização por Dano Moral"}], "secrecy_level": 0}
LOADER_SECONDS = 0.2


def percentile(samples: list[float], share: float) -> float:
    """Nearest rank: the smallest sample at or above `share` of all samples."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def micro(samples_s: list[float]) -> tuple[float, float, float]:
    return percentile(samples_s, 0.50) * 1e6, percentile(samples_s, 0.99) * 1e6, max(samples_s) * 1e6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        names = list(client.scan_iter(match=prefix + "*", count=500))
        for start in range(0, len(names), 500):
            client.unlink(*names[start:start + 500])
    finally:
        client.close()


def hit_latency(url: str | None, ops: int) -> dict:
    store = Cache(redis_url=url, key_prefix=f"bench:{uuid.uuid4().hex}:")
    try:
        store.set("bench", "hot", VALUE, ttl=3600)
        rows = {}
        for name, call in (("get", lambda: store.get("bench", "hot")),
                           ("get_or_load", lambda: store.get_or_load("bench", "hot", dict, ttl=3600))):
            for _ in range(min(ops // 10, 2000)):
                call()
            samples = []
            for _ in range(ops):
                started = time.perf_counter()
                call()
                samples.append(time.perf_counter() - started)
            rows[name] = micro(samples)
        return rows
    finally:
        if url:
            clean(url, store._store.redis._prefix)
        store.close()


def _stampede_process(url, prefix, threads, barrier, calls, waits):
    """One 'worker': its own Cache (own client, own flights), `threads` concurrent misses of one key."""
    store = Cache(redis_url=url, key_prefix=prefix)

    def loader():
        with calls.get_lock():
            calls.value += 1
        time.sleep(LOADER_SECONDS)
        return VALUE

    gate = threading.Barrier(threads)

    def one(_):
        gate.wait()
        started = time.perf_counter()
        store.get_or_load("bench", "cold", loader)
        return time.perf_counter() - started

    barrier.wait()
    with ThreadPoolExecutor(threads) as pool:
        waits.put(list(pool.map(one, range(threads))))
    store.close()


def stampede(url: str | None, processes: int, total: int = 100) -> tuple[int, float]:
    """`total` concurrent misses split over `processes` worker processes: loader calls and p99 wait."""
    ctx = multiprocessing.get_context("spawn")
    prefix = f"bench:{uuid.uuid4().hex}:"
    barrier, calls, waits = ctx.Barrier(processes), ctx.Value("i", 0), ctx.Queue()
    workers = [ctx.Process(target=_stampede_process, args=(url, prefix, total // processes, barrier, calls, waits))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    samples = [s for _ in workers for s in waits.get(timeout=60)]
    for worker in workers:
        worker.join(30)
    if url:
        clean(url, prefix)
    return calls.value, percentile(samples, 0.99) * 1000


def outage_ops(store: Cache, seconds: float) -> list[float]:
    """set + get + get_or_load, paced 5 ms apart for `seconds`, so probes after each cool-off are included."""
    samples, i, end = [], 0, time.monotonic() + seconds
    while time.monotonic() < end:
        for call, args in ((store.set, ("bench", f"k{i}", VALUE)), (store.get, ("bench", f"k{i}")),
                           (store.get_or_load, ("bench", f"l{i}", dict))):
            started = time.perf_counter()
            call(*args)
            samples.append(time.perf_counter() - started)
        i += 1
        time.sleep(0.005)
    return samples


class Server:
    def __init__(self, directory: str):
        self.port, self.directory, self.proc = free_port(), directory, None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(250):
            client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.02)
            finally:
                client.close()
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()


def recovery_seconds(store: Cache, limit: float = 10.0) -> float:
    started = time.monotonic()
    while store.backend() != "redis" and time.monotonic() - started < limit:
        store.get("bench", "probe")
        time.sleep(0.01)
    return time.monotonic() - started


def redis_down(seconds: float) -> list[tuple[str, list[float], float | None]]:
    rows = []
    memory = Cache()
    rows.append(("memory only (no REDIS_URL), baseline", outage_ops(memory, seconds), None))
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)  # never accepted: reads time out, later connects are not answered
    try:
        store = Cache(redis_url=f"redis://127.0.0.1:{hole.getsockname()[1]}/0")
        rows.append(("blackholed (socket never accepts)", outage_ops(store, seconds), None))
        store.close()
    finally:
        hole.close()
    if not shutil.which("redis-server"):
        print("redis-server not on PATH: killed/frozen rows skipped", file=sys.stderr)
        return rows
    with tempfile.TemporaryDirectory(prefix="cache-bench-") as directory:
        for label, stop, restart in (
            ("killed server (SIGKILL), then restarted", lambda s: (s.proc.kill(), s.proc.wait()), Server.start),
            ("frozen server (SIGSTOP), then SIGCONT", lambda s: os.kill(s.proc.pid, signal.SIGSTOP),
             lambda s: os.kill(s.proc.pid, signal.SIGCONT)),
        ):
            server = Server(directory)
            server.start()
            store = Cache(redis_url=f"redis://127.0.0.1:{server.port}/0")
            try:
                for i in range(200):  # warm: Redis in use, a recent success
                    store.set("bench", f"w{i}", VALUE)
                stop(server)
                samples = outage_ops(store, seconds)
                restart(server)
                rows.append((label, samples, recovery_seconds(store)))
            finally:
                store.close()
                server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--ops", type=int, default=20_000, help="measured calls per hit-latency row")
    parser.add_argument("--outage-seconds", type=float, default=4.0, help="duration of each outage row")
    args = parser.parse_args()
    logging.getLogger("portal.cache").addHandler(logging.NullHandler())  # the app's JSON logging is not set up here
    try:
        client = redis.Redis.from_url(args.redis_url, socket_connect_timeout=0.5)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis is not reachable at {args.redis_url}: {exc}") from None

    print(f"# cache bench — {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M')}")
    print("\n## Hit latency (one call, value ~4 KB JSON)")
    print(f"{'backend':10} {'call':12} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>9}")
    for backend, url in (("memory", None), ("redis", args.redis_url)):
        for call, (p50, p99, top) in hit_latency(url, args.ops).items():
            print(f"{backend:10} {call:12} {p50:8.1f} {p99:8.1f} {top:9.0f}")

    print(f"\n## Stampede: 100 concurrent misses of one key, loader takes {LOADER_SECONDS * 1000:.0f} ms")
    print(f"{'backend':10} {'processes':>9} {'threads':>8} {'loader calls':>13} {'p99 wait ms':>12}")
    for backend, url, processes in (("memory", None, 1), ("redis", args.redis_url, 1), ("redis", args.redis_url, 4)):
        calls, wait = stampede(url, processes)
        print(f"{backend:10} {processes:9d} {100 // processes:8d} {calls:13d} {wait:12.1f}")

    print(f"\n## Redis down: set + get + get_or_load for {args.outage_seconds:g} s, 5 ms apart (probes included)")
    print(f"{'situation':42} {'ops':>6} {'p50 µs':>8} {'p99 µs':>8} {'max ms':>7} {'> 10 ms':>8} {'back in s':>9}")
    for label, samples, back in redis_down(args.outage_seconds):
        p50, p99, top = micro(samples)
        slow = sum(1 for s in samples if s > 0.010)
        print(f"{label:42} {len(samples):6d} {p50:8.1f} {p99:8.1f} {top / 1000:7.1f} {slow:8d} "
              f"{'' if back is None else f'{back:.2f}':>9}")


if __name__ == "__main__":
    main()
