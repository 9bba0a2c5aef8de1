"""`make bench`: the portal on its production settings beside a bare Flask app, scenario by scenario, into
docs/BENCHMARKS.md.

    make bench                                   (= .venv/bin/python bench/make_bench.py)
    .venv/bin/python bench/make_bench.py --endurance-minutes 10     (the full 10-minute endurance run)
    .venv/bin/python bench/make_bench.py --quick --no-docs          (a short run to check the machinery)

What it starts, all on loopback and all its own: a PostgreSQL database `bench_<random>` on 127.0.0.1:5432
(created as user postgres, dropped at the end), a redis-server on a free port, a fake DataJud that knows the
fixture process and 10,000 synthetic TJES numbers (tests/fake_datajud.py, counting every call), the portal
(APP_ENV=production, SESSION_SECRET, DATABASE_URL, REDIS_URL, LOG_FILE) and bench/bare_app.py, both as
`.venv/bin/gunicorn -c gunicorn.conf.py --no-control-socket` (gthread, one worker per CPU x 4 threads).
The lookup and assistant rate limits are raised (LOOKUP_RATE_LIMIT, ASSISTANT_RATE_LIMIT): every client of the
benchmark comes from 127.0.0.1, where production would see thousands of addresses.

Throughput scenarios alternate with the bare app (bare, scenario, bare, scenario, ..., bare) and each is
divided by the bare figure measured just before it; every measurement follows a warm-up. Load comes from
bench/load.py (wrk when installed, else its Python clients; here they share the machine's cores with the
servers) and bench/performance_test.py (Zipf lookups, 1,000 connections, memory, endurance).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import performance_test as perf  # noqa: E402
from bench.load import LoadRun, Stream, free_port, measure, summary, wrk  # noqa: E402
from tests.fake_datajud import FakeDataJud, load_documents  # noqa: E402

STORED = "0022783-22.2017.8.08.0024"  # the TJES fixture: a stored process
STORED_DIGITS = re.sub(r"\D", "", STORED)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DOCS = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- make bench: start -->", "<!-- make bench: end -->"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"


class SyntheticDocuments(dict):
    """The fixtures, and for any of `numbers` a copy of the TJES fixture under that number (a real hit)."""

    def __init__(self, base: dict, numbers: list[str]):
        super().__init__(base)
        self.template = base[STORED_DIGITS][0]
        self.known = {re.sub(r"\D", "", n) for n in numbers}

    def get(self, number, default=None):
        found = super().get(number)
        if found is not None or number not in self.known:
            return found if found is not None else default
        hit = copy.deepcopy(self.template)
        hit["_id"] = f"TJES_G1_{number}"
        hit["_source"]["numeroProcesso"] = number
        hit["_source"]["id"] = hit["_id"]
        return [hit]


# -- the services -----------------------------------------------------------------------------------------------

@contextlib.contextmanager
def postgres_database():
    import psycopg

    name = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()[0]
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}", version
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def redis_server(directory: Path):
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(directory)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        for _ in range(100):
            try:
                redis.Redis(port=port, socket_timeout=0.2).ping()
                break
            except redis.RedisError:
                time.sleep(0.05)
        yield port
    finally:
        proc.kill()
        proc.wait()


class Gunicorn:
    """One app under the project's gunicorn.conf.py on a free loopback port."""

    def __init__(self, app: str, env: dict, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("ab")
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        self.proc = subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py", "--no-control-socket",
                                      "-b", f"127.0.0.1:{self.port}", app], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=self.log, start_new_session=True)
        for _ in range(600):
            try:
                urllib.request.urlopen(self.url + "/health/live" if app.startswith("app:") else self.url,
                                       timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise SystemExit(f"make_bench: {app} did not start; see {log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(35)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# -- facts about the machine ------------------------------------------------------------------------------------

def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kb / 2**20:.1f} GiB"
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": memory, "kernel": platform.release(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def versions(pg_version: str) -> dict:
    found = {"python": platform.python_version(), "postgresql": pg_version}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
        found["redis"] = re.search(r"v=(\S+)", out).group(1)
    for package in ("Flask", "Werkzeug", "gunicorn", "SQLAlchemy", "psycopg", "redis", "Flask-Limiter",
                    "prometheus_client"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        found["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                         text=True).stdout.strip()
    found["load generator"] = "wrk" if shutil.which("wrk") else "bench/load.py's Python clients"
    return found


# -- the run ----------------------------------------------------------------------------------------------------

def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def measured(url: str, seconds: float, warmup: float, connections: int) -> dict:
    if warmup:
        measure(url, max(1, round(warmup)), connections)
    return measure(url, max(1, round(seconds)), connections)


def sweep(base: str, numbers: list[str], connections: int) -> dict:
    """Every number looked up once (what a portal that has served for a while holds), `connections` at a time."""
    progress = perf.Progress()

    def step(client, slot, n):
        index = slot + n * connections  # each client takes every `connections`-th number
        if index < len(numbers):
            status, _ = client.get("sweep", "/api/v1/processos/" + numbers[index])
            progress.add(status, client.records[-1].seconds)
        else:
            time.sleep(0.1)

    run = LoadRun(base, [Stream("sweep", step, concurrency=connections)])
    ticker = perf.Ticker(progress, "sweep")
    run.start()
    ticker.start()
    started = time.time()
    while time.time() - started < 600 and progress.snapshot()[0] < len(numbers):
        time.sleep(0.5)
    records = run.stop()
    ticker.stop()
    errors = sum(1 for r in records if r.status != 200)
    say(f"sweep: {len(records):,} lookups in {time.time() - started:.0f} s, {errors} not 200")
    return {**compact(summary(records)), "errors": errors}


def compact(result: dict) -> dict:
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in result.items()
            if k in ("rps", "p50_ms", "p90_ms", "p99_ms", "non_2xx", "requests")}


def run(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="make-bench-"))
    numbers = perf.tjes_numbers(args.numbers)
    fake = FakeDataJud(SyntheticDocuments(load_documents(ROOT.parent / "shared" / "fixtures" / "datajud",
                                                         ROOT / "tests" / "fixtures" / "datajud"), numbers))
    out: dict = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(), "rows": [],
                 "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    rows = out["rows"]
    servers: list[Gunicorn] = []
    try:
        with postgres_database() as (database_url, pg_version), redis_server(tmp) as redis_port:
            out["versions"] = versions(pg_version)
            keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
            env = {k: os.environ[k] for k in keep if k in os.environ}
            env.update(APP_ENV="production", SESSION_SECRET=secrets.token_urlsafe(48), DATABASE_URL=database_url,
                       REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", LOG_FILE=str(tmp / "portal.log"),
                       DATAJUD_BASE_URL=fake.url, LOOKUP_RATE_LIMIT="1000000/minute",
                       ASSISTANT_RATE_LIMIT="1000000/minute")
            say(f"migrating {database_url.rsplit('/', 1)[1]}")
            subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "db", "upgrade"], cwd=ROOT,
                           env=env, check=True, capture_output=True)
            bare = Gunicorn("bench.bare_app:create_app()", env, tmp / "bare.log")
            servers.append(bare)
            portal = Gunicorn("app:create_app()", env, tmp / "portal-gunicorn.log")
            servers.append(portal)
            out["commands"] = {
                "portal": f"{GUNICORN.relative_to(ROOT)} -c gunicorn.conf.py --no-control-socket "
                          "-b 127.0.0.1:<port> \"app:create_app()\"",
                "bare": f"{GUNICORN.relative_to(ROOT)} -c gunicorn.conf.py --no-control-socket "
                        "-b 127.0.0.1:<port> \"bench.bare_app:create_app()\""}
            master, workers = perf.server_processes(portal.url, portal.proc.pid)
            out["workers"] = len(workers)
            urllib.request.urlopen(f"{portal.url}/api/v1/processos/{STORED}", timeout=20).read()  # stored

            def pair(name: str, url: str, connections: int = args.connections, against: str = "bare") -> dict:
                """`rounds` alternations of the bare app and the scenario; the row is the round of median ratio."""
                rounds = []
                for round_ in range(1, args.rounds + 1):
                    say(f"bare app, c={connections} (round {round_} of {args.rounds})")
                    base = measured(bare.url + "/", args.seconds, args.warmup, connections)
                    say(f"{name}, c={connections} (round {round_} of {args.rounds})")
                    result = measured(url, args.seconds, args.warmup, connections)
                    rounds.append((result["rps"] / base["rps"] if base["rps"] else 0.0, base, result))
                ratio, base, result = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]
                rows.append({"scenario": "bare Flask app", "before": name, "connections": connections,
                             **compact(base)})
                row = {"scenario": name, "connections": connections, **compact(result), "ratio": round(ratio, 3),
                       "ratios": [round(r[0], 3) for r in rounds], "against": against}
                rows.append(row)
                return row

            pair("pipeline (/health/live)", portal.url + "/health/live")
            pair("public content page (/servicos)", portal.url + "/servicos")
            api_hit = pair("stored process, API (cache hit)", f"{portal.url}/api/v1/processos/{STORED}")
            page_hit = pair("stored process, page (cache hit)", f"{portal.url}/processos/{STORED}")

            # Zipf(1.1) lookups over 10,000 numbers: warm-up, then the measured window, counting source calls
            settings = {"numbers": numbers, "zipf_table": perf.Zipf(args.numbers, 1.1), "seed": 7}
            if args.zipf_sweep:
                say(f"Zipf lookups: warm-up, every one of the {args.numbers:,} numbers once")
                swept = sweep(portal.url, numbers, args.connections)
                rows.append({"scenario": f"lookups through the source (warm-up: each of {args.numbers:,} numbers "
                                         "once, fake DataJud)", "connections": args.connections, **swept})
            say(f"Zipf lookups: warm-up {args.zipf_warmup:g} s")
            warm = perf.run_closed(portal.url, "lookup", settings, args.connections, args.zipf_warmup, "warm-up")
            calls_before = fake.count
            say(f"Zipf lookups: measured {args.zipf_seconds:g} s")
            settings["seed"] = 8
            window = perf.run_closed(portal.url, "lookup", settings, args.connections, args.zipf_seconds, "zipf")
            calls = fake.count - calls_before
            result = summary(window["records"], window["start"], window["end"])
            requests_ = result["requests"]
            seen_warm = {r.note for r in warm["records"]} | (set(numbers) if args.zipf_sweep else set())
            seen_window = {r.note for r in window["records"]}
            rows.append({"scenario": f"Zipf(1.1) lookups over {args.numbers:,} numbers, after warm-up",
                         "connections": args.connections, **compact(result),
                         "served_without_source": round(1 - calls / requests_, 4) if requests_ else None,
                         # a number first asked in the window must reach the source: the best share possible
                         "ceiling": round(1 - len(seen_window - seen_warm) / requests_, 4) if requests_ else None,
                         "source_calls": calls, "distinct_numbers": len(seen_window),
                         "new_numbers": len(seen_window - seen_warm),
                         "sweep": args.zipf_sweep,
                         "warmup_requests": len(warm["records"]),
                         "warmup_distinct": len({r.note for r in warm["records"]}),
                         "source_calls_total": fake.count - 1, "distinct_total": len(seen_warm | seen_window)})

            say(f"{args.crowd} connections on public pages, {args.crowd_seconds:g} s")
            crowd_name = f"{args.crowd:,} concurrent connections, public pages, {args.crowd_seconds:g} s"
            if shutil.which("wrk"):
                # wrk keeps 1,000 connections open from two threads; 1,000 Python client threads would take most
                # of the two cores from the server they measure.
                crowd = wrk(portal.url + "/", round(args.crowd_seconds), args.crowd, perf.PUBLIC_PATHS)
                rows.append({"scenario": crowd_name, "connections": args.crowd, "load": "wrk", **compact(crowd),
                             "errors": crowd["non_2xx"] + crowd["socket_errors"]})
            else:
                crowd = perf.run_closed(portal.url, "public", {"seed": 3}, args.crowd, args.crowd_seconds, "crowd")
                rows.append({"scenario": crowd_name, "connections": args.crowd, "load": "python clients",
                             **compact(summary(crowd["records"], crowd["start"], crowd["end"])),
                             "errors": sum(1 for r in crowd["records"] if not 200 <= r.status < 400)})

            say(f"memory: {args.memory_requests:,} requests of the mix")
            before = perf.worker_memory(master)
            users = args.connections
            loaded = perf.run_load(portal.url, "mix", {**settings, "seed": 9}, users,
                                   -(-args.memory_requests // users), args.max_memory_seconds, "memory")
            after = perf.worker_memory(master)
            rows.append({"scenario": f"memory after {len(loaded['records']):,} requests of the mix",
                         "connections": users, **compact(summary(loaded["records"], loaded["start"], loaded["end"])),
                         "rss_mb_before": [w["rss_mb"] for w in before], "rss_mb_after": [w["rss_mb"] for w in after],
                         "uss_mb_after": [w["uss_mb"] for w in after], "ended_by": loaded["ended_by"]})

            say(f"endurance: {args.endurance_rate:g} req/s for {args.endurance_minutes:g} min")
            endurance = perf.run_endurance(portal.url, "mix", {**settings, "seed": 11}, args.endurance_rate,
                                           args.endurance_minutes, 32, args.endurance_minutes * 60 + 60, master)
            memory = {k: v for k, v in endurance["memory"].items() if k != "samples"}
            rows.append({"scenario": f"endurance, {args.endurance_rate:g} req/s of the mix for "
                                     f"{args.endurance_minutes:g} min", "connections": 32,
                         **compact(summary(endurance["records"], endurance["start"], endurance["end"])),
                         "drift": endurance["drift"], "memory": memory,
                         "achieved_rate": endurance["achieved_rate"]})
            plot_path = ROOT / "bench" / "results" / f"make-bench-endurance-{time.strftime('%Y%m%dT%H%M%S')}.png"
            plot_path.parent.mkdir(exist_ok=True)
            perf.plot(plot_path, "endurance (mix)", perf.per_second(endurance["records"],
                      endurance["start"], endurance["end"]), endurance["memory"]["samples"], endurance["start"])
            out["endurance_plot"] = str(plot_path.relative_to(ROOT))

            # The source down: a portal whose cache and stored copy expire after 1 s, on a Redis db of its own
            # (the first portal's cache entries are fresh there), its DataJud answering 503, the breaker open.
            portal.stop()
            servers.remove(portal)
            stale_env = {**env, "PROCESS_CACHE_TTL": "1", "PROCESS_DB_TTL": "1",
                         "REDIS_URL": f"redis://127.0.0.1:{redis_port}/1"}
            stale = Gunicorn("app:create_app()", stale_env, tmp / "portal-stale.log")
            servers.append(stale)
            urllib.request.urlopen(f"{stale.url}/api/v1/processos/{STORED}", timeout=20).read()
            fake.set("503")
            time.sleep(2.5)  # past both TTLs
            measure(f"{stale.url}/api/v1/processos/{STORED}", 3, args.connections)  # opens the breaker
            calls_before = fake.count
            down = pair("stored process, API, DataJud down (breaker open)",
                        f"{stale.url}/api/v1/processos/{STORED}")
            down["source_calls"] = fake.count - calls_before
            down["vs_cache_hit"] = round(down["ratio"] / api_hit["ratio"], 3) if api_hit["ratio"] else None
            calls_before = fake.count
            page_down = pair("stored process, page, DataJud down (breaker open)", f"{stale.url}/processos/{STORED}")
            page_down["source_calls"] = fake.count - calls_before
            page_down["vs_cache_hit"] = round(page_down["ratio"] / page_hit["ratio"], 3) if page_hit["ratio"] else None
            say("bare app, last")
            last = measured(bare.url + "/", args.seconds, args.warmup, args.connections)
            rows.append({"scenario": "bare Flask app", "before": "the end", "connections": args.connections,
                         **compact(last)})
    finally:
        for server in servers:
            server.stop()
        fake.stop()
    out["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    out["tmp"] = str(tmp)
    return out


# -- the table --------------------------------------------------------------------------------------------------

def fmt(value, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{unit}"


def goals(out: dict) -> list[tuple[str, str, str, str]]:
    """(scenario, goal, measured, met?) for the issue's goals."""
    rows = {r["scenario"]: r for r in out["rows"] if r["scenario"] != "bare Flask app"}
    found = []

    def get(prefix: str) -> dict | None:
        return next((row for name, row in rows.items() if name.startswith(prefix)), None)

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    row = get("pipeline")
    if row:
        found.append(("the pipeline", "≥ 0.80", f"{row['ratio']:.2f}", verdict(row["ratio"] >= 0.80)))
    row = get("public content page")
    if row:
        found.append(("a public content page", "≥ 0.60, p99 ≤ 50 ms", f"{row['ratio']:.2f}, {fmt(row['p99_ms'])} ms",
                      verdict(row["ratio"] >= 0.60 and row["p99_ms"] <= 50)))
    row = get("stored process, API (cache hit)")
    if row:
        found.append(("stored process, API (cache hit)", "≥ 0.60, p99 ≤ 50 ms",
                      f"{row['ratio']:.2f}, {fmt(row['p99_ms'])} ms",
                      verdict(row["ratio"] >= 0.60 and row["p99_ms"] <= 50)))
    row = get("stored process, page (cache hit)")
    if row:
        found.append(("stored process, page (cache hit)", "≥ 0.50, p99 ≤ 60 ms",
                      f"{row['ratio']:.2f}, {fmt(row['p99_ms'])} ms",
                      verdict(row["ratio"] >= 0.50 and row["p99_ms"] <= 60)))
    for kind in ("API", "page"):
        row = get(f"stored process, {kind}, DataJud down")
        if row and row.get("vs_cache_hit") is not None:
            found.append((f"stored process, {kind}, DataJud down (breaker open)", "within 10 % of the cache hit",
                          f"ratio {row['ratio']:.2f} = {row['vs_cache_hit']:.0%} of the cache hit's; "
                          f"{row['source_calls']} source calls", verdict(row["vs_cache_hit"] >= 0.90)))
    row = get("Zipf")
    if row:
        found.append(("Zipf(1.1) lookups after warm-up", "≥ 98 % without the source; source calls ≤ distinct numbers",
                      f"{row['served_without_source']:.1%} (the draw's ceiling after this warm-up: "
                      f"{row['ceiling']:.1%}); {row['source_calls_total']:,} calls for "
                      f"{row['distinct_total']:,} distinct numbers",
                      verdict(row["served_without_source"] >= 0.98)
                      + ("; calls ≤ numbers met" if row["source_calls_total"] <= row["distinct_total"]
                         else "; calls > numbers")))
    row = get("1,000 concurrent") or get(f"{out['settings']['crowd']:,} concurrent")
    if row:
        found.append((f"{row['connections']:,} connections, public pages", "0 errors; p99 ≤ 1 s",
                      f"{row['errors']} errors; p99 {fmt(row['p99_ms'])} ms",
                      verdict(row["errors"] == 0 and (row["p99_ms"] or 0) <= 1000)))
    row = get("memory after")
    if row and row["rss_mb_after"]:
        found.append(("memory per worker", f"RSS ≤ 120 MB after {out['settings']['memory_requests']:,} requests",
                      f"{max(row['rss_mb_after']):.0f} MB at most ({len(row['rss_mb_after'])} workers)",
                      verdict(max(row["rss_mb_after"]) <= 120)))
    row = get("endurance")
    if row and "rss_growth" in row["memory"]:
        minutes = out["settings"]["endurance_minutes"]
        found.append(("memory growth, endurance", "≤ 5 % over 10 minutes",
                      f"{row['memory']['rss_growth']:+.1%} over {minutes:g} min (RSS, all workers)",
                      verdict(row["memory"]["rss_growth"] <= 0.05)
                      + ("" if minutes >= 10 else " (short run)")))
    return found


def markdown(out: dict) -> str:
    m, v = out["machine"], out["versions"]
    s = out["settings"]
    lines = [START, f"## `make bench` — {out['date']}", ""]
    quiet = m["load_average"][0] < 2  # at the end the figure includes this run's own load
    lines.append(f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']}, Linux {m['kernel']}; load average "
                 f"{m['load_average'][0]:.2f} at the start ({m['load_average_end'][0]:.2f} at the end, this run's "
                 "own load and any other work included)"
                 + ("." if quiet else " — **the machine was busy with other work: these figures need a quiet "
                                      "machine and are noisy, ratios more than counts.**"))
    lines.append("Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".")
    lines += ["", "Command: `make bench` (`.venv/bin/python bench/make_bench.py"
              + ("" if s["quick"] is False else " --quick") + f" --seconds {s['seconds']:g}"
              f" --rounds {s.get('rounds', 1)} --endurance-minutes {s['endurance_minutes']:g}`). "
              "Servers, started by it:",
              "", f"- portal: `{out['commands']['portal']}` with APP_ENV=production, SESSION_SECRET, PostgreSQL "
              f"(a database of its own), Redis (a redis-server of its own), LOG_FILE, a fake DataJud on loopback, "
              f"LOOKUP_RATE_LIMIT and ASSISTANT_RATE_LIMIT raised (all clients are 127.0.0.1); "
              f"{out['workers']} gthread workers × 4 threads;",
              f"- bare: `{out['commands']['bare']}` (bench/bare_app.py: one route returning \"hello\").",
              "", f"Each throughput row: {s['warmup']:g} s warm-up, then {s['seconds']:g} s measured, "
              f"{s['connections']} connections, right after the bare app measured the same way (the ratio divides "
              f"by that bare figure); {s.get('rounds', 1)} such alternations per scenario, the row shows the one "
              "of median ratio (every round's ratio is listed below the goals). The load generator shares the two "
              "cores with the servers.", "",
              "| scenario | conn. | req/s | p50 | p99 | errors | ratio to bare |", "|---|---|---|---|---|---|---|"]
    for row in out["rows"]:
        name = row["scenario"] + (f" (before {row['before']})" if row.get("before") else "")
        errors = row.get("errors", row.get("non_2xx"))
        lines.append(f"| {name} | {row['connections']:,} | {fmt(row['rps'])} | {fmt(row['p50_ms'], ' ms', 1)} | "
                     f"{fmt(row['p99_ms'], ' ms', 1)} | {errors} | "
                     f"{fmt(row.get('ratio'), '', 2) if row.get('ratio') is not None else ''} |")
    lines += ["", "| goal (issue 15) | target | measured | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in goals(out)]
    notes = []
    rounds = [f"{row['scenario']}: {', '.join(f'{r:.2f}' for r in row['ratios'])}"
              for row in out["rows"] if len(row.get("ratios", ())) > 1]
    if rounds:
        notes.append("Ratio of each round (bare app, then the scenario), in the order run: " + "; ".join(rounds) + ".")
    for row in out["rows"]:
        if row["scenario"].startswith("Zipf"):
            notes.append(("Zipf lookups: every number was first looked up once (the sweep row); then "
                          if row.get("sweep") else "Zipf lookups: ")
                         + f"the Zipf warm-up sent {row['warmup_requests']:,} requests over "
                         f"{row['warmup_distinct']:,} numbers; the measured window {row['requests']:,} requests over "
                         f"{row['distinct_numbers']:,} numbers, {row['new_numbers']:,} of them new, "
                         f"and {row['source_calls']:,} calls reached the fake DataJud ("
                         f"{row['served_without_source']:.1%} served without the source; a number first asked in the "
                         f"window cannot be, so {row['ceiling']:.1%} is the most this warm-up allows — Zipf(1.1) over "
                         f"10,000 numbers keeps drawing new numbers: without the sweep, 98 % needs about 150,000 "
                         f"requests of warm-up by the draw's own arithmetic). Over the whole run "
                         f"{row['source_calls_total']:,} source calls for {row['distinct_total']:,} distinct numbers.")
        if row["scenario"].startswith("memory after"):
            notes.append(f"Memory: RSS per worker {row['rss_mb_before']} MB before and {row['rss_mb_after']} MB "
                         f"after {row['requests']:,} requests of the mix (70 % public pages, 25 % Zipf lookups, 5 % "
                         f"assistant questions) spread over all workers, on top of the earlier scenarios' requests "
                         f"(USS {row['uss_mb_after']} MB: RSS counts the pages shared with the master); "
                         f"ended by: {row['ended_by']}.")
        if row["scenario"].startswith("endurance"):
            d = row["drift"]
            notes.append(f"Endurance: {row['achieved_rate']} req/s achieved; p50 {d['first_tenth']['p50_ms']} → "
                         f"{d['last_tenth']['p50_ms']} ms and p99 {d['first_tenth']['p99_ms']} → "
                         f"{d['last_tenth']['p99_ms']} ms from the first to the last tenth; memory {row['memory']}. "
                         + ("" if s["endurance_minutes"] >= 10 else
                            f"`make bench` keeps this run short ({s['endurance_minutes']:g} min); the goal's "
                            "10 minutes: `.venv/bin/python bench/make_bench.py --endurance-minutes 10`."))
        if "DataJud down" in row["scenario"]:
            notes.append(f"{row['scenario']}: {row['source_calls']} calls reached the source while measured "
                         "(only the breaker's trial calls may).")
    lines += [""] + [f"- {note}" for note in notes]
    lines += ["", "Raw figures: `bench/results/make-bench-*.json` (not committed).", END, ""]
    return "\n".join(lines)


def write_docs(text: str) -> None:
    current = DOCS.read_text(encoding="utf-8")
    if START in current and END in current:
        head, rest = current.split(START, 1)
        current = head + text.rstrip("\n") + rest.split(END, 1)[1]
    else:
        title, _, body = current.partition("\n")
        current = f"{title}\n\n{text}\n{body.lstrip()}"
    DOCS.write_text(current, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per throughput row")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3,
                        help="bare/scenario alternations per throughput row; the row reports the median ratio")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--numbers", type=int, default=10_000)
    parser.add_argument("--zipf-sweep", action=argparse.BooleanOptionalAction, default=True,
                        help="warm up by looking every number up once before the Zipf warm-up (default: yes)")
    parser.add_argument("--zipf-warmup", type=float, default=15)
    parser.add_argument("--zipf-seconds", type=float, default=20)
    parser.add_argument("--crowd", type=int, default=1000, help="connections of the crowd scenario")
    parser.add_argument("--crowd-seconds", type=float, default=30)
    parser.add_argument("--memory-requests", type=int, default=100_000)
    parser.add_argument("--max-memory-seconds", type=float, default=600)
    parser.add_argument("--endurance-minutes", type=float, default=2, help="10 for the goal's full run")
    parser.add_argument("--endurance-rate", type=float, default=100)
    parser.add_argument("--quick", action="store_true", help="every phase short: checks the machinery only")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    parser.add_argument("--from-json", type=Path, help="rewrite the docs' section from an earlier run's results")
    args = parser.parse_args()
    if args.from_json:
        text = markdown(json.loads(args.from_json.read_text()))
        print(text)
        if not args.no_docs:
            write_docs(text)
        return
    if args.quick:
        args.seconds, args.warmup, args.zipf_warmup, args.zipf_seconds, args.rounds = 3, 1, 5, 5, 1
        args.crowd_seconds, args.memory_requests, args.endurance_minutes = 5, 3000, 0.25
    out = run(args)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    path = results / f"make-bench-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(out, indent=1, default=str))
    text = markdown(out)
    print(text)
    if not args.no_docs:
        write_docs(text)
        print(f"written: {DOCS.relative_to(ROOT)}")
    print(f"raw: {path.relative_to(ROOT)}")
    shutil.rmtree(out["tmp"], ignore_errors=True)


if __name__ == "__main__":
    main()
