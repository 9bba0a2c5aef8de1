"""Load test for one deployment of the portal: load, stress and endurance runs, with JSON results and a PNG plot.

    .venv/bin/python bench/performance_test.py load --url http://127.0.0.1:5000 --users 20 --requests 50
    .venv/bin/python bench/performance_test.py stress --url http://127.0.0.1:8000 --scenario mix --latency-bound-ms 500
    .venv/bin/python bench/performance_test.py endurance --url http://127.0.0.1:8000 --rate 50 --minutes 10

Modes
  load       --users N clients each send --requests M requests back to back (closed loop), then the run ends.
  stress     concurrency stepped up (--start-users, doubling up to --max-users, --step-seconds each) until the
             error rate passes --max-error-rate or p99 passes --latency-bound-ms; reports every step and the knee
             (the last step whose throughput still grew by 10 % or more, within both bounds).
  endurance  a constant arrival rate (--rate requests/s spread over --users clients) for --minutes; reports the
             drift of p50/p99 between the first and the last tenth of the run and, when the server is a process
             on this machine (found by the port it listens on, or --server-pid), the RSS of its gunicorn workers.

Scenarios (--scenario)
  public     the public pages (home, services, FAQ, contact, the court, accessibility, privacy, search, lookup form);
  lookup     GET /api/v1/processos/<cnj> over --numbers valid TJES numbers drawn from a Zipf(--zipf, default 1.1)
             distribution (a few numbers are asked often, most rarely; --page asks /processos/<cnj> instead);
  assistant  POST /api/v1/chat {"message": ...} with questions people ask the court (no session, no cookie);
  mix        70 % public, 25 % lookup, 5 % assistant;
  path       one path, --path (e.g. /health/live).

Every mode has a maximum duration (--max-seconds; defaults: load 600 s, stress 1800 s, endurance --minutes plus
60 s) and a hard ceiling of 4 hours. The target must be a loopback address unless --allow-host names its host:
load tests on someone else's server are not this tool's business. Rate limits apply to the load like to anyone:
all clients come from one address, so on a production configuration lookups that reach the source
(LOOKUP_RATE_LIMIT) and assistant questions (ASSISTANT_RATE_LIMIT) soon get 429s, which are counted as errors.
The lookup and mix scenarios ask about numbers the portal does not hold, so the portal asks its provider: point
DATAJUD_BASE_URL at a fake (tests/fake_datajud.py; `make bench` does) unless you mean to spend the real
source's quota; without a reachable source those lookups are 503s.

Clients are bench/load.py's (the project's one load generator), in two forked processes. A live progress line
goes to stderr; results go to --out (default bench/results/) as perf-<mode>-<scenario>-<time>.json and .png
(latency p50/p99, throughput and errors per second, and server memory when measured).
"""
from __future__ import annotations

import argparse
import bisect
import json
import multiprocessing
import random
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from bench.load import LoadRun, Record, Stream, percentile, summary  # noqa: E402
from utils.cnj import check_digits  # noqa: E402

HARD_CEILING_S = 4 * 3600
PUBLIC_PATHS = ("/", "/servicos", "/perguntas-frequentes", "/contato", "/a-vara", "/acessibilidade",
                "/privacidade", "/busca?q=audi%C3%AAncia", "/consulta")
QUESTIONS = (
    "Qual o horário de atendimento da vara?",
    "Como consulto o andamento do meu processo?",
    "Preciso de advogado para entrar com uma ação?",
    "Onde fica o fórum de Cariacica?",
    "Como peço justiça gratuita?",
    "O que é uma audiência de conciliação?",
    "Como falo com o cartório?",
    "Quanto tempo demora um processo?",
)
MIX = (("public", 0.70), ("lookup", 0.25), ("assistant", 0.05))
TJES_ORIGIN = "0012"  # the comarca of Cariacica in CNJ numbers


# -- numbers and the Zipf draw ----------------------------------------------------------------------------------

def tjes_numbers(count: int, year: int = 2024, origin: str = TJES_ORIGIN) -> list[str]:
    """`count` valid TJES CNJ numbers (sequential NNNNNNN, right check digits), in rank order for the Zipf draw."""
    numbers = []
    for sequence in range(1, count + 1):
        n = f"{sequence:07d}"
        numbers.append(f"{n}-{check_digits(n, year, 8, 8, origin)}.{year}.8.08.{origin}")
    return numbers


class Zipf:
    """Rank k (0-based) drawn with probability proportional to 1 / (k + 1) ** s."""

    def __init__(self, count: int, s: float):
        total, self.cumulative = 0.0, []
        for rank in range(1, count + 1):
            total += rank ** -s
            self.cumulative.append(total)
        self.total = total

    def draw(self, rng: random.Random) -> int:
        return min(bisect.bisect_left(self.cumulative, rng.random() * self.total), len(self.cumulative) - 1)

    def share_of_top(self, ranks: int) -> float:
        return self.cumulative[ranks - 1] / self.total


# -- live counters shared by the forked client processes ----------------------------------------------------------

class Progress:
    """Counters in shared memory (made before the fork): requests, errors, latency sum (ms), finished clients."""

    def __init__(self):
        self.values = multiprocessing.get_context("fork").Array("d", 4)

    def add(self, status: int, seconds: float) -> None:
        with self.values.get_lock():
            self.values[0] += 1
            self.values[1] += 0 if 200 <= status < 400 else 1
            self.values[2] += seconds * 1000

    def finish_one(self) -> None:
        with self.values.get_lock():
            self.values[3] += 1

    def snapshot(self) -> tuple[float, float, float, float]:
        with self.values.get_lock():
            return tuple(self.values[:])


class Ticker(threading.Thread):
    """The live progress line: one rewrite per second on a terminal, one line every 10 s otherwise."""

    def __init__(self, progress: Progress, label: str, extra=None):
        super().__init__(daemon=True)
        self.progress, self.label, self.extra = progress, label, extra
        self.stopped = threading.Event()
        self.tty = sys.stderr.isatty()

    def run(self) -> None:
        started, last = time.monotonic(), self.progress.snapshot()
        last_print = 0.0
        while not self.stopped.wait(1.0):
            now = self.progress.snapshot()
            done, errors = now[0] - last[0], now[1] - last[1]
            mean = (now[2] - last[2]) / done if done else 0.0
            elapsed = time.monotonic() - started
            line = (f"{self.label} {elapsed:6.0f}s  {int(now[0]):>8} req  {done:6.0f} req/s  mean {mean:7.1f} ms  "
                    f"errors {int(now[1])} (+{int(errors)})" + (f"  {self.extra()}" if self.extra else ""))
            if self.tty:
                sys.stderr.write("\r" + line[:160].ljust(160))
            elif elapsed - last_print >= 10:
                sys.stderr.write(line + "\n")
                last_print = elapsed
            sys.stderr.flush()
            last = now

    def stop(self) -> None:
        self.stopped.set()
        self.join(2)
        if self.tty:
            sys.stderr.write("\n")


# -- scenarios ------------------------------------------------------------------------------------------------

def make_step(scenario: str, settings: dict, progress: Progress, offset: int = 0, requests_per_client: int = 0,
              schedule=None):
    """step(client, slot, n) for load.Stream: one request of the scenario, counted in `progress`.
    `requests_per_client` > 0 ends each client after that many; `schedule(slot, n)` gives the time a request of an
    open-loop run is due (the client waits for it)."""
    numbers: list[str] = settings.get("numbers") or []
    zipf: Zipf | None = settings.get("zipf_table")
    lookup_prefix = "/processos/" if settings.get("page") else "/api/v1/processos/"
    path = settings.get("path") or "/"
    rngs: dict[int, random.Random] = {}
    finished: set[int] = set()

    def one(client, kind: str, rng: random.Random) -> None:
        if kind == "public":
            client.get("public", rng.choice(PUBLIC_PATHS))
        elif kind == "lookup":
            number = numbers[zipf.draw(rng)]
            client.get("lookup", lookup_prefix + number, note=lambda status, data: number)
        elif kind == "assistant":
            client.cookies.clear()  # an API client without a session: no CSRF token needed
            body = json.dumps({"message": rng.choice(QUESTIONS)}).encode()
            client.request("assistant", "POST", "/api/v1/chat", body=body,
                           headers={"Content-Type": "application/json"})
        else:
            client.get("path", path)

    def step(client, slot: int, n: int) -> None:
        slot += offset
        if requests_per_client and n >= requests_per_client:
            if slot not in finished:
                finished.add(slot)
                progress.finish_one()
            time.sleep(0.2)
            return
        if schedule is not None:
            delay = schedule(slot, n) - time.time()
            if delay > 0:
                time.sleep(delay)
        rng = rngs.get(slot)
        if rng is None:
            rng = rngs[slot] = random.Random(settings.get("seed", 1) * 100_003 + slot)
        if scenario == "mix":
            pick, kind = rng.random(), "public"
            for name, weight in MIX:
                if pick < weight:
                    kind = name
                    break
                pick -= weight
        else:
            kind = scenario
        one(client, kind, rng)
        record = client.records[-1]
        progress.add(record.status, record.seconds)

    return step


def streams_for(scenario: str, settings: dict, users: int, progress: Progress, processes: int = 2,
                requests_per_client: int = 0, schedule=None, timeout_s: float = 30.0) -> list[Stream]:
    """`users` clients of the scenario spread over `processes` forked processes (the clients' GIL is not the limit)."""
    streams, offset = [], 0
    for group in range(processes):
        count = users // processes + (1 if group < users % processes else 0)
        if count:
            step = make_step(scenario, settings, progress, offset, requests_per_client, schedule)
            streams.append(Stream(scenario, step, concurrency=count, group=group, timeout_s=timeout_s))
            offset += count
    return streams


# -- the server's memory --------------------------------------------------------------------------------------

def server_processes(url: str, server_pid: int | None) -> tuple[int | None, list[int]]:
    """(master pid, worker pids) of a gunicorn on this machine: --server-pid, else the process that listens on the
    URL's port. (None, []) when the server is not a local process or cannot be seen."""
    import psutil

    try:
        if server_pid is None:
            port = urllib.parse.urlsplit(url).port or 80
            listening = {c.pid for c in psutil.net_connections("tcp")
                         if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid}
            if not listening:
                return None, []
            server_pid = min(listening)
        master = psutil.Process(server_pid)
        # gunicorn's workers share the master's socket, and the listener found may be a worker: go up to the master
        parent = master.parent()
        while parent is not None and "gunicorn" in " ".join(parent.cmdline()) \
                and "gunicorn" in " ".join(master.cmdline()):
            master, parent = parent, parent.parent()
        server_pid = master.pid
        workers = [child.pid for child in master.children()]
        return server_pid, workers or [server_pid]
    except (psutil.Error, OSError, IndexError):
        return None, []


def worker_memory(master: int | None) -> list[dict]:
    """RSS and USS (MB) of each current worker of `master` (workers are recycled, so asked afresh each time)."""
    import psutil

    if master is None:
        return []
    try:
        workers = psutil.Process(master).children() or [psutil.Process(master)]
    except psutil.Error:
        return []
    rows = []
    for worker in workers:
        try:
            info = worker.memory_full_info()
            rows.append({"pid": worker.pid, "rss_mb": round(info.rss / 2**20, 1), "uss_mb": round(info.uss / 2**20, 1)})
        except psutil.Error:
            continue
    return rows


class MemorySampler(threading.Thread):
    def __init__(self, master: int | None, every_s: float = 5.0):
        super().__init__(daemon=True)
        self.master, self.every_s = master, every_s
        self.samples: list[dict] = []
        self.stopped = threading.Event()

    def sample(self) -> None:
        rows = worker_memory(self.master)
        if rows:
            self.samples.append({"t": time.time(), "workers": rows,
                                 "rss_mb_total": round(sum(r["rss_mb"] for r in rows), 1),
                                 "uss_mb_total": round(sum(r["uss_mb"] for r in rows), 1)})

    def run(self) -> None:
        self.sample()
        while not self.stopped.wait(self.every_s):
            self.sample()

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)
        self.sample()


# -- figures from the records ---------------------------------------------------------------------------------

def rounded(result: dict) -> dict:
    out = {}
    for key, value in result.items():
        if key == "statuses":
            out[key] = {str(k): v for k, v in sorted(value.items())}
        else:
            out[key] = round(value, 2) if isinstance(value, float) else value
    return out


def per_second(records: list[Record], start: float, end: float) -> list[dict]:
    buckets: dict[int, list[Record]] = {}
    for record in records:
        buckets.setdefault(int(record.started - start), []).append(record)
    series = []
    for second in range(max(1, int(end - start))):  # whole seconds: a last partial one would read as a drop
        chosen = buckets.get(second, [])
        millis = [r.seconds * 1000 for r in chosen]
        series.append({"t": second, "requests": len(chosen),
                       "errors": sum(1 for r in chosen if not 200 <= r.status < 400),
                       "p50_ms": percentile(millis, 50), "p99_ms": percentile(millis, 99)})
    return series


def by_kind(records: list[Record], start: float, end: float) -> dict:
    kinds = sorted({r.kind for r in records})
    result = {kind: rounded(summary(records, start, end, (kind,))) for kind in kinds}
    lookups = [r for r in records if r.kind == "lookup" and start <= r.started < end]
    if lookups:
        result["lookup"]["distinct_numbers"] = len({r.note for r in lookups})
    return result


def plot(path: Path, title: str, series: list[dict], memory: list[dict], start: float,
         marks: list[tuple[float, str]] = ()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 3 if memory else 2
    fig, axes = plt.subplots(rows, 1, figsize=(11, 3.2 * rows), sharex=True)
    t = [s["t"] for s in series]
    axes[0].plot(t, [s["p50_ms"] for s in series], label="p50")
    axes[0].plot(t, [s["p99_ms"] for s in series], label="p99")
    axes[0].set_ylabel("latency (ms)")
    axes[0].set_yscale("log")
    axes[0].legend(loc="upper left")
    axes[0].set_title(title)
    axes[1].plot(t, [s["requests"] for s in series], label="requests/s")
    axes[1].plot(t, [s["errors"] for s in series], label="errors/s", color="tab:red")
    axes[1].set_ylabel("per second")
    axes[1].legend(loc="upper left")
    if memory:
        mt = [m["t"] - start for m in memory]
        axes[2].plot(mt, [m["rss_mb_total"] for m in memory], label="RSS, all workers")
        axes[2].plot(mt, [m["uss_mb_total"] for m in memory], label="USS, all workers")
        axes[2].set_ylabel("MB")
        axes[2].legend(loc="upper left")
    for at, label in marks:
        for axis in axes:
            axis.axvline(at - start, color="grey", linewidth=0.6, linestyle=":")
        axes[0].annotate(label, (at - start, 1), xycoords=("data", "axes fraction"), fontsize=7, va="top")
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- the modes ------------------------------------------------------------------------------------------------

def _run(base: str, streams: list[Stream], progress: Progress, label: str, until, max_seconds: float,
         extra=None) -> tuple[list[Record], float, float, str]:
    """Run the streams until `until(elapsed)` is true or `max_seconds` pass; (records, start, end, why it ended)."""
    ticker = Ticker(progress, label, extra)
    run = LoadRun(base, streams)
    started = time.time()
    run.start()
    ticker.start()
    reason = "max duration"
    try:
        while time.time() - started < max_seconds:
            if until(time.time() - started):
                reason = "done"
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        reason = "interrupted"
    ended = time.time()
    records = run.stop()
    ticker.stop()
    return records, started, ended, reason


def run_load(base: str, scenario: str, settings: dict, users: int, requests: int, max_seconds: float,
             label: str = "load") -> dict:
    progress = Progress()
    streams = streams_for(scenario, settings, users, progress, requests_per_client=requests,
                          timeout_s=settings.get("timeout", 30.0))
    records, started, ended, reason = _run(base, streams, progress, label,
                                           lambda _: progress.snapshot()[3] >= users, max_seconds)
    records = [r for r in records if r.started < ended]
    last = max((r.started + r.seconds for r in records), default=ended)
    return {"records": records, "start": started, "end": min(ended, last) if reason == "done" else ended,
            "ended_by": reason}


def run_closed(base: str, scenario: str, settings: dict, users: int, seconds: float, label: str) -> dict:
    """`users` clients back to back for `seconds` (the stress steps, and the fixed-length runs of make bench)."""
    progress = Progress()
    streams = streams_for(scenario, settings, users, progress, timeout_s=settings.get("timeout", 30.0))
    records, started, ended, reason = _run(base, streams, progress, label, lambda elapsed: elapsed >= seconds,
                                           seconds + 1)
    return {"records": [r for r in records if r.started < ended], "start": started, "end": ended,
            "ended_by": reason}


def run_stress(base: str, scenario: str, settings: dict, start_users: int, max_users: int, step_seconds: float,
               latency_bound_ms: float, max_error_rate: float, max_seconds: float) -> dict:
    steps, records_all, marks = [], [], []
    deadline = time.time() + max_seconds
    users, stop_reason, first_start = start_users, f"reached --max-users {max_users}", None
    while users <= max_users:
        if time.time() + step_seconds > deadline:
            stop_reason = "max duration"
            break
        run = run_closed(base, scenario, settings, users, step_seconds, f"stress c={users}")
        first_start = first_start or run["start"]
        marks.append((run["start"], f"c={users}"))
        records_all.extend(run["records"])
        # the first second of a step is connection set-up
        result = rounded(summary(run["records"], run["start"] + min(1.0, step_seconds / 4), run["end"]))
        error_rate = result["non_2xx"] / result["requests"] if result["requests"] else 1.0
        steps.append({"users": users, **result, "error_rate": round(error_rate, 4)})
        if error_rate > max_error_rate:
            stop_reason = f"error rate {error_rate:.1%} > {max_error_rate:.1%} at {users} users"
            break
        if result["p99_ms"] is not None and result["p99_ms"] > latency_bound_ms:
            stop_reason = f"p99 {result['p99_ms']:.0f} ms > {latency_bound_ms:.0f} ms at {users} users"
            break
        users *= 2
    knee = None
    within = [s for s in steps if s["error_rate"] <= max_error_rate
              and (s["p99_ms"] or 0) <= latency_bound_ms]
    for i, step in enumerate(within):
        if i == 0 or step["rps"] >= within[i - 1]["rps"] * 1.10:
            knee = step
        else:
            break
    return {"records": records_all, "start": first_start or time.time(), "end": time.time(), "steps": steps,
            "knee": knee, "stopped_because": stop_reason, "marks": marks}


def run_endurance(base: str, scenario: str, settings: dict, rate: float, minutes: float, users: int,
                  max_seconds: float, master: int | None) -> dict:
    progress = Progress()
    t0 = time.time() + 1.0
    interval = users / rate

    def schedule(slot: int, n: int) -> float:  # request n of client `slot`: evenly spread arrivals at `rate`
        return t0 + slot / rate + n * interval

    streams = streams_for(scenario, settings, users, progress, schedule=schedule,
                          timeout_s=settings.get("timeout", 30.0))
    sampler = MemorySampler(master, every_s=max(2.0, minutes * 60 / 120))
    sampler.start()

    def memory_now():
        return f"RSS {sampler.samples[-1]['rss_mb_total']:.0f} MB" if sampler.samples else ""

    seconds = minutes * 60
    records, _started, ended, reason = _run(base, streams, progress, f"endurance {rate:g}/s",
                                           lambda elapsed: elapsed >= seconds + 1.0,
                                           min(max_seconds, seconds + 1.0), memory_now)
    sampler.stop()
    records = [r for r in records if r.started >= t0 and r.started < ended]
    tenth = max(seconds / 10, 1.0)
    first = rounded(summary(records, t0, t0 + tenth))
    last = rounded(summary(records, ended - tenth, ended))
    drift = {"first_tenth": {k: first[k] for k in ("rps", "p50_ms", "p99_ms", "non_2xx")},
             "last_tenth": {k: last[k] for k in ("rps", "p50_ms", "p99_ms", "non_2xx")}}
    for key in ("p50_ms", "p99_ms"):
        if first[key] and last[key]:
            drift[f"{key[:3]}_change"] = round(last[key] / first[key] - 1, 3)
    memory = {"samples": sampler.samples}
    if len(sampler.samples) >= 2:
        a, b = sampler.samples[0], sampler.samples[-1]
        memory.update(rss_mb_start=a["rss_mb_total"], rss_mb_end=b["rss_mb_total"],
                      rss_growth=round(b["rss_mb_total"] / a["rss_mb_total"] - 1, 4),
                      uss_growth=round(b["uss_mb_total"] / a["uss_mb_total"] - 1, 4),
                      workers_start=len(a["workers"]), workers_end=len(b["workers"]))
    return {"records": records, "start": t0, "end": ended, "ended_by": reason, "drift": drift, "memory": memory,
            "target_rate": rate, "achieved_rate": round(len(records) / max(ended - t0, 1e-9), 2)}


# -- command line ---------------------------------------------------------------------------------------------

def check_target(url: str, allowed: list[str]) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http",) or not parts.hostname:
        raise SystemExit(f"performance_test: --url must be http://host:port, got {url!r} (bench/load.py speaks "
                         "plain HTTP: test the app server behind the TLS proxy)")
    host = parts.hostname
    if host not in load.LOOPBACK:
        if host not in allowed:
            raise SystemExit(f"performance_test: {host} is not a loopback address; name it with --allow-host {host} "
                             "if it is your own deployment and you mean to load it")
        # bench/load.py's Client refuses any host outside its LOOPBACK list: the named host joins it, in this
        # process only (the clients are forked from it).
        load.LOOPBACK = (*load.LOOPBACK, host)
    return f"{parts.scheme}://{parts.netloc}"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="performance_test.py", description=__doc__.split("\n\n")[0],
                                  epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawTextHelpFormatter)
    modes = top.add_subparsers(dest="mode", required=True, metavar="{load,stress,endurance}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default="http://127.0.0.1:5000", help="base URL of the portal (default: make run's)")
    common.add_argument("--scenario", choices=("public", "lookup", "assistant", "mix", "path"), default="public")
    common.add_argument("--path", default="/health/live", help="the path of --scenario path")
    common.add_argument("--numbers", type=int, default=10_000, help="distinct CNJ numbers of the lookup scenario")
    common.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of the lookups (default 1.1)")
    common.add_argument("--page", action="store_true", help="lookups ask the process page instead of the API")
    common.add_argument("--seed", type=int, default=1)
    common.add_argument("--timeout", type=float, default=30.0, help="seconds a client waits for one answer")
    common.add_argument("--max-seconds", type=float, help="stop the run after this long whatever else says")
    common.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                        help="a non-loopback host you own and mean to load (repeatable)")
    common.add_argument("--server-pid", type=int, help="gunicorn master's pid, for the memory figures")
    common.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="where JSON and PNG go")
    common.add_argument("--no-plot", action="store_true")
    load_mode = modes.add_parser("load", parents=[common], help="N users x M requests, closed loop")
    load_mode.add_argument("--users", type=int, default=10)
    load_mode.add_argument("--requests", type=int, default=100, help="requests per user")
    stress = modes.add_parser("stress", parents=[common], help="concurrency doubled until errors or a latency bound")
    stress.add_argument("--start-users", type=int, default=4)
    stress.add_argument("--max-users", type=int, default=512)
    stress.add_argument("--step-seconds", type=float, default=15)
    stress.add_argument("--latency-bound-ms", type=float, default=1000, help="p99 bound that ends the run")
    stress.add_argument("--max-error-rate", type=float, default=0.01, help="error share that ends the run")
    endurance = modes.add_parser("endurance", parents=[common], help="constant arrival rate for N minutes")
    endurance.add_argument("--rate", type=float, default=20, help="requests per second")
    endurance.add_argument("--minutes", type=float, default=10)
    endurance.add_argument("--users", type=int, default=32, help="clients sharing the rate (bounds concurrency)")
    return top


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    base = check_target(args.url, args.allow_host)
    defaults = {"load": 600.0, "stress": 1800.0,
                "endurance": getattr(args, "minutes", 0) * 60 + 60}
    max_seconds = min(args.max_seconds or defaults[args.mode], HARD_CEILING_S)
    if args.mode == "endurance" and args.minutes * 60 > max_seconds:
        raise SystemExit(f"performance_test: --minutes {args.minutes:g} is past the maximum duration "
                         f"({max_seconds:.0f} s)")
    settings = {"path": args.path, "page": args.page, "seed": args.seed, "timeout": args.timeout}
    if args.scenario in ("lookup", "mix"):
        settings["numbers"] = tjes_numbers(args.numbers)
        settings["zipf_table"] = Zipf(args.numbers, args.zipf)
    master, _workers = server_processes(base, args.server_pid)
    memory_before = worker_memory(master)

    if args.mode == "load":
        result = run_load(base, args.scenario, settings, args.users, args.requests, max_seconds)
    elif args.mode == "stress":
        result = run_stress(base, args.scenario, settings, args.start_users, args.max_users, args.step_seconds,
                            args.latency_bound_ms, args.max_error_rate, max_seconds)
    else:
        result = run_endurance(base, args.scenario, settings, args.rate, args.minutes, args.users, max_seconds,
                               master)

    records, start, end = result.pop("records"), result["start"], result["end"]
    marks = result.pop("marks", [])
    memory_after = worker_memory(master)
    out = {"tool": "bench/performance_test.py", "argv": sys.argv[1:] if argv is None else argv, "mode": args.mode,
           "scenario": args.scenario, "url": base, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                                             time.localtime(start)),
           "summary": rounded(summary(records, start, end)), "by_kind": by_kind(records, start, end),
           **{k: v for k, v in result.items() if k not in ("start", "end")},
           "server": {"master_pid": master, "memory_before": memory_before, "memory_after": memory_after},
           "series": per_second(records, start, end)}
    if args.scenario in ("lookup", "mix"):
        out["lookup_numbers"] = {"count": args.numbers, "zipf": args.zipf,
                                 "share_of_top_100": round(settings["zipf_table"].share_of_top(min(100, args.numbers)),
                                                           3)}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"perf-{args.mode}-{args.scenario}-{time.strftime('%Y%m%dT%H%M%S')}"
    (args.out / f"{stem}.json").write_text(json.dumps(out, indent=1, default=str))
    if not args.no_plot:
        memory = result.get("memory", {}).get("samples", []) if isinstance(result.get("memory"), dict) else []
        plot(args.out / f"{stem}.png", f"{args.mode}, {args.scenario}, {base}", out["series"], memory, start, marks)
    report(out)
    print(f"results: {args.out / stem}.json" + ("" if args.no_plot else " and .png"))
    return out


def report(out: dict) -> None:
    s = out["summary"]
    print(f"{out['mode']} / {out['scenario']}: {s['requests']} requests, {s['rps']:.1f} req/s, p50 {s['p50_ms']} ms, "
          f"p90 {s['p90_ms']} ms, p99 {s['p99_ms']} ms, errors {s['non_2xx']}  statuses {s['statuses']}")
    for kind, k in out["by_kind"].items():
        extra = f", {k['distinct_numbers']} distinct numbers" if "distinct_numbers" in k else ""
        print(f"  {kind:10} {k['requests']:>8} req  p50 {k['p50_ms']} ms  p99 {k['p99_ms']} ms  "
              f"errors {k['non_2xx']}{extra}")
    for step in out.get("steps", []):
        print(f"  c={step['users']:<5} {step['rps']:8.1f} req/s  p50 {step['p50_ms']} ms  p99 {step['p99_ms']} ms  "
              f"errors {step['error_rate']:.2%}")
    if out.get("knee"):
        print(f"  knee: {out['knee']['users']} users, {out['knee']['rps']:.1f} req/s, p99 {out['knee']['p99_ms']} ms;"
              f" stopped: {out['stopped_because']}")
    if "drift" in out:
        print(f"  drift: {out['drift']}  achieved {out['achieved_rate']} of {out['target_rate']} req/s")
        memory = {k: v for k, v in out["memory"].items() if k != "samples"}
        print(f"  memory: {memory or 'not measured (not a local process? give --server-pid)'}")


if __name__ == "__main__":
    main()
