"""The benchmarks' one load generator: closed-loop HTTP clients on loopback that record every request.

Two ways to use it:
- `measure(url, seconds, connections)`: hammer one URL and get {rps, non_2xx, p50_ms, p90_ms, p99_ms} (wrk when it
  is installed, else the Python clients below), as bench/throughput.py and bench/lookup_bench.py do;
- `LoadRun([...Stream...], processes)`: several kinds of traffic at once, each a `Stream` of `concurrency` clients
  that call `step(client)` and think between steps, in forked processes (so the clients' own GIL does not become
  the bottleneck) until `stop()`; every request comes back as a `Record`, which `summary()` reads. bench/chaos.py
  runs the portal's mixed load this way and judges each fault from these records alone.

Loopback only: `Client` refuses any other host.
"""
from __future__ import annotations

import http.client
import multiprocessing
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CONNECTION_ERROR = 0  # Record.status when no answer came: the connection was refused, reset or closed
TIMEOUT = -1  # Record.status when the client gave up waiting


class Record(NamedTuple):
    started: float  # time.time() when the request was sent
    seconds: float
    kind: str  # what the request was for: "home", "lookup_unseen", "write", ...
    status: int  # HTTP status, or CONNECTION_ERROR / TIMEOUT
    note: str = ""  # what the step read from the answer (e.g. the readiness status)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One keep-alive connection with a cookie jar; every request is appended to `records`."""

    def __init__(self, base: str, records: list, timeout: float = 30.0):
        parts = urllib.parse.urlsplit(base)
        if parts.hostname not in LOOPBACK:
            raise ValueError(f"load only on loopback, not {parts.hostname}")
        self.host, self.port, self.timeout = parts.hostname, parts.port or 80, timeout
        self.records = records
        self.cookies: dict[str, str] = {}
        self.stale_retries = 0  # requests re-sent once because a kept-alive connection had been closed
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            return self._conn, False
        return self._conn, True

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, kind: str, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None, note: Callable[[int, bytes], str] | None = None) -> tuple[int, bytes]:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.time()
        clock = time.perf_counter()
        for attempt in (1, 2):
            conn, reused = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except TimeoutError:
                self.close()
                self.records.append(Record(started, time.perf_counter() - clock, kind, TIMEOUT))
                return TIMEOUT, b""
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.close()
                # A kept-alive connection the server had already closed (gunicorn's keepalive, a recycled
                # worker) fails at once: send again on a new one, as every HTTP client does.
                if attempt == 1 and reused and isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError,
                                                                ConnectionResetError)):
                    self.stale_retries += 1
                    continue
                self.records.append(Record(started, time.perf_counter() - clock, kind, CONNECTION_ERROR,
                                           type(exc).__name__))
                return CONNECTION_ERROR, b""
            break
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        self.records.append(Record(started, time.perf_counter() - clock, kind, response.status,
                                   note(response.status, data) if note else ""))
        return response.status, data

    def get(self, kind: str, path: str, **kwargs) -> tuple[int, bytes]:
        return self.request(kind, "GET", path, **kwargs)

    def post_form(self, kind: str, path: str, fields: dict, **kwargs) -> tuple[int, bytes]:
        body = urllib.parse.urlencode(fields).encode()
        return self.request(kind, "POST", path, body=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"}, **kwargs)


CSRF_FIELD = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: bytes) -> str | None:
    found = CSRF_FIELD.search(html)
    return found.group(1).decode() if found else None


@dataclass
class Stream:
    """`concurrency` clients, each calling `step(client, slot, n)` then sleeping `think_s`, until stopped.
    `setup(client, slot)` runs once per client first (e.g. a login); it may return False to be tried again."""

    name: str
    step: Callable[[Client, int, int], None]
    concurrency: int = 1
    think_s: float = 0.0
    setup: Callable[[Client, int], bool] | None = None
    timeout_s: float = 30.0
    group: int = 0  # streams with the same group run in the same process
    slots: range = field(default=range(0))


def _client_loop(base: str, stream: Stream, slot: int, records: list, stop) -> None:
    client = Client(base, records, stream.timeout_s)
    while stream.setup is not None and not stop.is_set():
        if stream.setup(client, slot) is not False:
            break
        stop.wait(0.5)
    n = 0
    while not stop.is_set():
        stream.step(client, slot, n)
        n += 1
        if stream.think_s:
            stop.wait(stream.think_s)
    client.close()


def _process_main(base: str, streams: list[Stream], stop, results) -> None:
    records: list[Record] = []
    threads = [threading.Thread(target=_client_loop, args=(base, stream, slot, records, stop), daemon=True)
               for stream in streams for slot in range(stream.concurrency)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(40)
    results.put(records)


class LoadRun:
    """The streams in forked processes (one per `group`), from `start()` to `stop()`, which returns the records."""

    def __init__(self, base: str, streams: list[Stream]):
        self.base = base
        self.streams = streams
        context = multiprocessing.get_context("fork")
        self._stop = context.Event()
        self._results = context.Queue()
        groups: dict[int, list[Stream]] = {}
        for stream in streams:
            groups.setdefault(stream.group, []).append(stream)
        self._processes = [context.Process(target=_process_main, args=(base, group, self._stop, self._results),
                                           daemon=True) for group in groups.values()]

    def start(self) -> LoadRun:
        for process in self._processes:
            process.start()
        return self

    def stop(self) -> list[Record]:
        self._stop.set()
        records: list[Record] = []
        for _ in self._processes:
            records.extend(self._results.get(timeout=90))
        for process in self._processes:
            process.join(10)
        return sorted(records, key=lambda record: record.started)


    def abort(self) -> None:
        """Stop at once, records dropped (the run failed elsewhere)."""
        self._stop.set()
        for process in self._processes:
            process.terminate()
            process.join(5)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(records: list[Record], start: float | None = None, end: float | None = None,
            kinds: tuple[str, ...] | None = None) -> dict:
    """Requests, rate, latency percentiles (ms) and answers by status of the records sent in [start, end)."""
    chosen = [r for r in records if (start is None or r.started >= start) and (end is None or r.started < end)
              and (kinds is None or r.kind in kinds)]
    span = (end - start) if start is not None and end is not None else \
        (max(r.started for r in chosen) - min(r.started for r in chosen) if len(chosen) > 1 else 0)
    millis = [r.seconds * 1000 for r in chosen]
    return {"requests": len(chosen), "rps": len(chosen) / span if span > 0 else 0.0,
            "p50_ms": percentile(millis, 50), "p90_ms": percentile(millis, 90), "p99_ms": percentile(millis, 99),
            "max_ms": max(millis) if millis else None, "statuses": Counter(r.status for r in chosen),
            "non_2xx": sum(1 for r in chosen if not 200 <= r.status < 400)}


def closed_loop(url: str, seconds: float, connections: int) -> dict:
    """`connections` clients requesting `url` back to back for `seconds` (the Python stand-in for wrk)."""
    parts = urllib.parse.urlsplit(url)
    base, path = f"{parts.scheme}://{parts.netloc}", parts.path + (f"?{parts.query}" if parts.query else "")
    def step(client, slot, n):
        client.get("url", path)

    halves = [connections - connections // 2, connections // 2]  # two processes: the clients' GIL is not the limit
    run = LoadRun(base, [Stream("url", step, concurrency=half, group=group)
                         for group, half in enumerate(halves) if half])
    started = time.time()
    run.start()
    time.sleep(seconds)
    records = run.stop()
    result = summary(records, started + 0.5, started + seconds)  # the first half second is connection set-up
    return {key: round(value, 2) if isinstance(value, float) else value for key, value in result.items()
            if key in ("rps", "non_2xx", "p50_ms", "p90_ms", "p99_ms")}


# wrk over several paths: each thread walks the list from its own start (wrk's Lua API: setup, init, request).
_PATHS_SCRIPT = """
local paths = {%s}
local counter = 1
local threads = 0
function setup(thread) thread:set("offset", threads); threads = threads + 1 end
function init(args) counter = 1 + offset * 7 end
function request()
  local path = paths[(counter %% #paths) + 1]
  counter = counter + 1
  return wrk.format("GET", path)
end
"""


def wrk(url: str, seconds: int, connections: int, paths: tuple[str, ...] = ()) -> dict:
    """wrk -t2 on `url`, or on `paths` of its host in turn; a request slower than 10 s counts as an error."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if paths:
            script.write(_PATHS_SCRIPT % ", ".join(f'"{path}"' for path in paths))
            script.flush()
            command[1:1] = ["-s", script.name]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    result = {"rps": rps, "non_2xx": int(errors.group(1)) if errors else 0,
              "socket_errors": sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
              "requests": int(total.group(1)) if total else None}
    for percentile_ in (50, 90, 99):
        found = re.search(rf"\b{percentile_}%\s+([\d.]+)(us|ms|s)\b", out)
        unit = {"us": 0.001, "ms": 1, "s": 1000}[found.group(2)]
        result[f"p{percentile_}_ms"] = round(float(found.group(1)) * unit, 2)
    return result


def measure(url: str, seconds: int, connections: int) -> dict:
    """wrk when installed (lighter on the machine), else the Python clients; the same keys either way."""
    return wrk(url, seconds, connections) if shutil.which("wrk") else closed_loop(url, seconds, connections)


def start_gunicorn(app: str, env: dict, workers: int, threads: int, worker_class: str = "gthread",
                   log=subprocess.DEVNULL, root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """`app` under gunicorn (the project's gunicorn.conf.py, from `root`) on a free loopback port, once it accepts
    connections."""
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py"), "-k", worker_class,
           "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}", app]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=log)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{app} did not start under gunicorn")
