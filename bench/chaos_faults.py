"""The faults of bench/chaos.py: how each is injected and cleared, what the portal may answer while it lasts,
how its end is recognised, and the checks run on the load's records afterwards.

Stated recovery times (the clock starts when the fault is cleared): Redis 15 s (the cache retries it after at
most 5 s; readiness is then "pass" again), PostgreSQL 15 s, a killed worker 10 s (gunicorn forks another),
DataJud and the model 30 s (a breaker that failed its trials stays open up to 4 x 5 s here before the next one).
"""
from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.load import summary

DATAJUD_503S = frozenset({"lookup_unseen"})  # the documented 503: a never-stored process while its source is down
DATABASE_503S = frozenset({"write", "lookup_unseen", "lookup_stored", "assistant", "dashboard", "login", "login_form"})
CUT_OFF_S = 2.0  # a source failing outright is cut off by its breaker within this long (issue 18)
SETTLE_S = 2.5
IN_FLIGHT_S = 1.0


@dataclass
class Fault:
    name: str
    seconds: float
    inject: Callable
    clear: Callable
    recovered: Callable  # env -> bool: the portal works normally again
    recovery_limit_s: float
    allow_503: frozenset = frozenset()
    source: str | None = None  # "datajud" or "model": whose request counter to report
    ready_expect: frozenset = frozenset()  # readiness statuses that must be seen while it lasts
    dashboard: Callable | None = None  # note -> bool: a dashboard answer that shows the fault
    breaker: bool = False  # the source's breaker must cut it off within CUT_OFF_S and close again afterwards
    allow_conn_errors: int = 0
    acceptance: bool = False  # the figure of issue 18 is measured in this phase


@dataclass
class Phase:
    fault: Fault
    started: float
    cleared: float
    recovered: float | None
    ended: float
    source_calls: int | None
    counts: list = field(default_factory=list)  # (time, source requests so far), every 0.2 s while it lasts
    note: str = ""


# -- probes -------------------------------------------------------------------------------------------------
def _status(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def ready_is(status: str):
    def probe(env) -> bool:
        code, body = _status(env.portal.url + "/health/ready")
        return code == 200 and json.loads(body)["status"] == status
    return probe


_probe_numbers = iter(range(10_000))


def source_answers(env) -> bool:
    """A lookup of a number nobody asked for reaches DataJud and gets its answer (not found), not a 503."""
    from bench.chaos import unseen_number

    code, _ = _status(env.portal.url + f"/api/v1/processos/{unseen_number(50, next(_probe_numbers))}")
    return code == 404


_admins: dict = {}


def breaker_closed(env, name: str) -> bool:
    """The dashboard (every worker's worst breaker state) says `name`'s breaker is closed."""
    from bench.chaos import login
    from bench.load import Client

    client = _admins.get(id(env))
    if client is None:
        client = _admins[id(env)] = Client(env.portal.url, [])
        login(client, 0)
    status, body = client.get("probe", "/api/v1/monitoring/metrics")
    if status != 200:
        login(client, 0)
        return False
    return any(d["name"] == name and d["breaker"] == "closed" for d in json.loads(body)["dependencies"])


def datajud_back(env) -> bool:
    return source_answers(env) and breaker_closed(env, "datajud")


def model_called_since(mark: dict):
    def probe(env) -> bool:
        return env.model.count() > mark.setdefault("calls", env.model.count())
    return probe


def workers_back(env) -> bool:
    pids = env.portal.worker_pids()
    return len(pids) == env.portal.workers and env.portal.killed not in pids and \
        _status(env.portal.url + "/health/live")[0] == 200


def writes_work(env) -> bool:
    """A page-feedback write is acknowledged again (the database answers every worker's pool)."""
    from bench.chaos import write_once
    from bench.load import Client

    records: list = []
    client = Client(env.portal.url, records, timeout=5)
    write_once(client)
    client.close()
    return bool(records) and records[-1].kind == "write" and records[-1].status == 303


# -- dashboard predicates (on the note the load's dashboard client kept) -------------------------------------
def dep_shows(name: str, *, breaker=(), status=(), error: str = ""):
    def shows(note: dict) -> bool:
        found = note["deps"].get(name)
        return bool(found) and (found[0] in breaker or found[1] in status or (error and error in found[3]))
    return shows


def part_is(name: str, status: str):
    return lambda note: note["parts"].get(name) == status


def bulkhead_used(note: dict) -> bool:
    return note["deps"].get("datajud", [0, 0, 0])[2] > 0


# -- the faults ------------------------------------------------------------------------------------------------
def _datajud(name, mode, seconds, delay=0.0, breaker=True, dashboard=None, ready=frozenset({"warn"}), **extra):
    return Fault(f"DataJud {name}", seconds, lambda env: env.datajud.mode(mode, delay),
                 lambda env: env.datajud.mode("ok"), datajud_back, 30, DATAJUD_503S, "datajud", ready,
                 dashboard or dep_shows("datajud", breaker=("open", "half_open"), status=("down",)), breaker, **extra)


class _Flapping:
    """503 and healthy in turns, one second each, from a thread of its own."""

    def __init__(self):
        self._stop = threading.Event()

    def inject(self, env) -> None:
        self._stop.clear()

        def flap():
            healthy = False
            while not self._stop.wait(1.0):
                env.datajud.mode("ok" if healthy else "503")
                healthy = not healthy
        threading.Thread(target=flap, daemon=True).start()

    def clear(self, env) -> None:
        self._stop.set()
        time.sleep(0.1)
        env.datajud.mode("ok")


def _restart_redis(env) -> None:
    env.redis.start()


def _restart_postgres(env) -> None:
    env.postgres.ctl("restart")


def _start_postgres(env) -> None:
    env.postgres.ctl("start")
    env.postgres.wait_up()


def faults(short: bool) -> list[Fault]:
    hold = 8 if short else 15
    flapping = _Flapping()
    model_mark: dict = {}
    baseline = Fault("baseline (no fault)", 8 if short else 15, lambda env: None, lambda env: None,
                     lambda env: True, 1)
    slow = _datajud("answering in 20 s", "slow", 15 if short else 25, delay=20, breaker=False, ready=frozenset(),
                    dashboard=lambda note: bulkhead_used(note) or dep_shows("datajud", status=("degraded", "down"))(
                        note), acceptance=True)
    down = _datajud("down (503)", "503", hold)
    too_many = _datajud("429 with Retry-After: 2", "429", hold)
    redis = Fault("Redis stopped, restarted", hold, lambda env: env.redis.stop(), _restart_redis, ready_is("pass"),
                  15, ready_expect=frozenset({"warn"}), dashboard=part_is("redis", "down"))
    pg_restart = Fault("PostgreSQL restarted", 0, _restart_postgres, lambda env: env.postgres.wait_up(),
                       writes_work, 15, DATABASE_503S)
    pg_stop = Fault(f"PostgreSQL stopped {hold} s", hold, lambda env: env.postgres.ctl("stop"), _start_postgres,
                    writes_work, 15, DATABASE_503S, ready_expect=frozenset({"fail"}))
    worker = Fault("a worker killed (SIGKILL)", 0, lambda env: env.portal.kill_worker(), lambda env: None,
                   workers_back, 10, allow_conn_errors=4)
    model_down = Fault("model down (refused)", hold, lambda env: env.model.kill(),
                       lambda env: (model_mark.clear(), env.model.start()), model_called_since(model_mark), 30,
                       source="model", dashboard=dep_shows("openai", status=("degraded", "down")))
    if short:
        return [baseline, slow, down, too_many, redis, pg_restart, pg_stop, worker, model_down]
    return [
        baseline, slow, down,
        _datajud("connection reset", "reset", hold),
        Fault("DataJud refused (stopped)", hold, lambda env: env.datajud.kill(), lambda env: env.datajud.start(),
              datajud_back, 30, DATAJUD_503S, None, frozenset({"warn"}),
              dep_shows("datajud", breaker=("open", "half_open"), status=("down",))),
        Fault("DataJud flapping (1 s each)", 20, flapping.inject, flapping.clear, datajud_back, 30, DATAJUD_503S,
              "datajud"),
        too_many,
        _datajud("401 (key refused)", "401", hold, breaker=False, ready=frozenset(),
                 dashboard=lambda note: "datajud_401" in note.get("alerts", ())),
        _datajud("garbage (HTML page)", "html", hold),
        _datajud("truncated JSON", "truncated", hold),
        model_down,
        Fault("model answering in 20 s", 25, lambda env: env.model.mode("slow", 20), lambda env: env.model.mode("ok"),
              model_called_since({}), 30, source="model",
              dashboard=lambda note: dep_shows("openai", status=("degraded", "down"))(note)
              or note["deps"].get("openai", [0] * 5)[4] >= 10_000),  # its p99 shows the slow answers
        redis,
        pg_restart,
        pg_stop,
        worker,
    ]


SHORT = faults(short=True)
FULL = faults(short=False)


# -- running and judging -----------------------------------------------------------------------------------------
def _source_count(env, source: str | None) -> int | None:
    if source is None:
        return None
    try:
        return {"datajud": env.datajud, "model": env.model}[source].count()
    except OSError:
        return None


def run_phase(env, fault: Fault) -> Phase:
    before = _source_count(env, fault.source)
    started = time.time()
    fault.inject(env)
    counts = []
    while time.time() - started < fault.seconds:
        if fault.breaker:
            counts.append((time.time(), _source_count(env, fault.source)))
        time.sleep(0.2)
    cleared = time.time()
    fault.clear(env)
    recovered = None
    while time.time() - cleared < fault.recovery_limit_s + 10:
        if fault.recovered(env):
            recovered = time.time()
            break
        time.sleep(0.2)
    time.sleep(SETTLE_S)
    ended = time.time() - IN_FLIGHT_S  # requests sent in the last second may be running when the next fault starts
    after = _source_count(env, fault.source)
    # A fake that was stopped and started again counts from zero.
    calls = None if before is None or after is None else after - before if after >= before else after
    return Phase(fault, started, cleared, recovered, ended, calls, counts)


def cut_off_s(phase: Phase) -> float | None:
    """Seconds from the fault to the last source request before its breaker stopped them (trials excepted)."""
    counts = [(t, n) for t, n in phase.counts if n is not None]
    last_rise = None
    for (_, earlier), (t, n) in itertools.pairwise(counts):
        if n > earlier and t - phase.started <= CUT_OFF_S + 3:
            last_rise = t
    return None if last_rise is None else last_rise - phase.started


def judge(phases: list[Phase], records, errors_by_kind, workers: int) -> list[dict]:
    baseline = next(p for p in phases if p.fault.name.startswith("baseline"))
    base_home = summary(records, baseline.started, baseline.cleared, kinds=("home",))
    verdicts = []
    for phase in phases:
        fault, problems = phase.fault, []
        # From a second before the injection (requests in flight when it happened answer under it) to a second
        # before the end of the settling time: the windows of consecutive faults meet.
        window = [r for r in records if phase.started - IN_FLIGHT_S <= r.started < phase.ended]
        lasting = [r for r in window if r.started < phase.cleared + 1]
        errors = errors_by_kind(window)
        for kind, count in errors.items():
            status, _, what = kind.partition(" ")
            if what == "ready" and status == "503" and fault.allow_503 == DATABASE_503S:
                continue  # not ready while the database is down: the right answer
            if status == "503" and what in fault.allow_503:
                continue
            if status in ("conn", "timeout") and count <= fault.allow_conn_errors:
                continue
            problems.append(f"{count} x {kind}")
        seen_ready = {r.note for r in lasting if r.kind == "ready"}
        if fault.ready_expect and not fault.ready_expect & seen_ready:
            expected = "/".join(sorted(fault.ready_expect))
            problems.append(f"/health/ready never said {expected} (saw {sorted(seen_ready)})")
        if fault.dashboard is not None:
            notes = [json.loads(r.note) for r in lasting if r.kind == "dashboard" and r.note.startswith("{")]
            if not any(fault.dashboard(note) for note in notes):
                problems.append("the dashboard never showed it")
        cut = cut_off_s(phase) if fault.breaker else None
        if fault.breaker:
            counts = [(t, n) for t, n in phase.counts if n is not None]
            late = [n for t, n in counts if phase.started + CUT_OFF_S <= t <= phase.started + CUT_OFF_S + 2]
            if late and late[-1] - late[0] > workers:
                problems.append(f"source not cut off within {CUT_OFF_S:g} s ({late[-1] - late[0]} calls after it)")
            opened = [json.loads(r.note) for r in lasting if r.kind == "dashboard" and r.note.startswith("{")]
            if not any(note["deps"].get("datajud", ["?"])[0] in ("open", "half_open") for note in opened):
                problems.append("breaker never seen open on the dashboard")
        recovery = None if phase.recovered is None else phase.recovered - phase.cleared
        if recovery is None or recovery > fault.recovery_limit_s:
            problems.append(f"not recovered within {fault.recovery_limit_s:g} s")
        row = summary(window)
        home = summary(window, kinds=("home",))
        verdict = {"fault": fault.name, "seconds": phase.cleared - phase.started, "requests": row["requests"],
                   "errors": errors, "source_calls": "-" if phase.source_calls is None else phase.source_calls,
                   "p99_home": home["p99_ms"], "p99_all": row["p99_ms"], "cut_off_s": cut, "recovery_s": recovery,
                   "problems": problems, "window": (phase.started - IN_FLIGHT_S, phase.ended)}
        if fault.acceptance:
            verdict["acceptance"] = acceptance(phase, records, base_home, problems)
        verdicts.append(verdict)
    return verdicts


def acceptance(phase: Phase, records, base_home: dict, problems: list) -> dict:
    """Issue 18's figure, over the fault minus its first 2 s (the lookups reaching the slow source)."""
    start = phase.started + 2
    home = summary(records, start, phase.cleared, kinds=("home",))
    ready = summary(records, start, phase.cleared, kinds=("ready",))
    figures = {"baseline_rps": base_home["rps"], "home_rps": home["rps"],
               "share": home["rps"] / base_home["rps"] if base_home["rps"] else 0.0,
               "home_p99_ms": home["p99_ms"] or 0.0, "ready_max_ms": ready["max_ms"] or 0.0}
    if figures["share"] < 0.8:
        problems.append(f"home page kept {figures['share']:.0%} of its throughput (< 80 %)")
    if figures["home_p99_ms"] > 500:
        problems.append(f"home page p99 {figures['home_p99_ms']:.0f} ms (> 500 ms)")
    if figures["ready_max_ms"] > 1000:
        problems.append(f"/health/ready took {figures['ready_max_ms']:.0f} ms (> 1 s)")
    return figures
