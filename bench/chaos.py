"""The fault suite: the portal under a steady mixed load on loopback while its dependencies fail, one at a time.

    make chaos                                  (every fault, about 10 minutes)
    make chaos-short  /  .venv/bin/python bench/chaos.py --short      (the CI form, about 3 minutes)

Starts its own Redis, a database of its own on the machine's PostgreSQL, the shared fake DataJud and fake model
and the portal under gunicorn with production settings (bench/chaos_env.py), then runs bench/load.py's clients
for the whole run: the home page (4 clients back to back), other pages, stored and never-seen process lookups (8
clients), page-feedback writes, the assistant, the admin dashboard's JSON and /health/ready. Each fault is
injected, held, cleared, and the portal's recovery awaited. Everything judged comes from the load's own records
(and the fakes' request counters): no 5xx but the documented 503s, every acknowledged write present afterwards,
breakers opening (source cut off within 2 s) and closing again, /health/ready and the dashboard reporting each
fault, recovery within the stated time, and the figure of issue 18: with DataJud answering in 20 s and 8 lookups
of unseen numbers at once, the home page keeps >= 80 % of its throughput at p99 <= 500 ms and /health/ready
answers within 1 s. Prints one row per fault; exit status 1 when any check failed. Stops and restarts the
machine's PostgreSQL (pg_ctlcluster): never run it beside a test suite that needs the database.
"""
from __future__ import annotations

import argparse
import json
import secrets
import shutil
import string
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import chaos_faults  # noqa: E402
from bench.chaos_env import ADMIN_PASSWORD, ADMIN_USER, Environment  # noqa: E402
from bench.load import Client, LoadRun, Stream, csrf_token, summary  # noqa: E402
from utils import cnj  # noqa: E402

STORED = "0022783-22.2017.8.08.0024"  # in ../shared/fixtures/datajud: stored at start, then served from the store
PAGES = ("/servicos", "/perguntas-frequentes", "/a-vara", "/contato")
QUESTION = json.dumps({"message": "Como faço para pedir uma certidão?", "session_id": None}).encode()
# What each kind of request answers when all is well; anything else is listed as an error of that kind.
EXPECTED = {"home": {200}, "page": {200}, "lookup_stored": {200}, "lookup_unseen": {404}, "write_form": {200},
            "write": {303}, "assistant": {200}, "dashboard": {200}, "ready": {200}, "login_form": {200},
            "login": {302, 303}}


def unseen_number(slot: int, n: int) -> str:
    sequence = 1_000_000 + slot * 100_000 + n % 100_000
    return cnj.format(f"{sequence:07d}{cnj.check_digits(sequence, 2025, 8, 8, 24)}" + "2025" + "8" + "08" + "0024")


def _letters(count: int) -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(count))


def _json_note(status: int, body: bytes, pick) -> str:
    if status != 200:
        return ""
    try:
        return json.dumps(pick(json.loads(body)), separators=(",", ":"))
    except (ValueError, KeyError, TypeError):
        return "unreadable"


def _ready_note(status: int, body: bytes) -> str:
    try:
        return json.loads(body)["status"]
    except (ValueError, KeyError, TypeError):
        return "unreadable"


def _dashboard_note(document: dict) -> dict:
    return {"deps": {d["name"]: [d["breaker"], d["status"], d.get("bulkhead_rejected", 0), d.get("last_error") or "",
                                 (d.get("latency") or {}).get("p99_ms") or 0] for d in document["dependencies"]},
            "parts": {c["name"]: c["status"] for c in document["health"]["components"]},
            "alerts": sorted(alert["condition"] for alert in document["alerts"])}


def login(client: Client, slot: int) -> bool:
    status, html = client.get("login_form", "/admin/login")
    token = csrf_token(html) if status == 200 else None
    if token is None:
        return False
    status, _ = client.post_form("login", "/admin/login", {"csrf_token": token, "username": ADMIN_USER,
                                                          "password": ADMIN_PASSWORD})
    return status in (302, 303)


def write_once(client: Client) -> None:
    """A page-feedback answer with a unique comment: the record's note, looked for in the database at the end."""
    status, html = client.get("write_form", "/avaliar/servicos")
    token = csrf_token(html) if status == 200 else None
    if token:
        marker = "caos" + _letters(20)
        client.post_form("write", "/avaliar/servicos", {"csrf_token": token, "helpful": "sim", "comment": marker},
                         note=lambda status, body: marker)


def streams() -> list[Stream]:
    def home(client, slot, n):
        client.get("home", "/")

    def page(client, slot, n):
        client.get("page", PAGES[n % len(PAGES)])

    def stored(client, slot, n):
        client.get("lookup_stored", f"/api/v1/processos/{STORED}" if n % 2 else f"/processos/{STORED}")

    def unseen(client, slot, n):
        number = unseen_number(slot, n)
        client.get("lookup_unseen", f"/api/v1/processos/{number}" if n % 2 else f"/processos/{number}")

    def write(client, slot, n):
        write_once(client)

    def ask(client, slot, n):
        client.request("assistant", "POST", "/api/v1/chat", body=QUESTION,
                       headers={"Content-Type": "application/json"},
                       note=lambda status, body: _json_note(status, body, lambda doc: doc["path"]))

    def dashboard(client, slot, n):
        status, _ = client.get("dashboard", "/api/v1/monitoring/metrics",
                               note=lambda status, body: _json_note(status, body, _dashboard_note))
        if status in (302, 401, 403):
            login(client, slot)

    def ready(client, slot, n):
        client.get("ready", "/health/ready", note=_ready_note)

    return [Stream("home", home, concurrency=4, group=0),
            Stream("pages", page, concurrency=1, think_s=0.05, group=1),
            Stream("stored", stored, concurrency=2, think_s=0.1, group=1),
            Stream("unseen", unseen, concurrency=8, think_s=0.5, group=1),
            Stream("writes", write, concurrency=2, think_s=0.2, group=1),
            Stream("assistant", ask, concurrency=1, think_s=1.0, group=1, timeout_s=40),
            Stream("dashboard", dashboard, concurrency=1, think_s=1.0, group=1, setup=login),
            Stream("ready", ready, concurrency=1, think_s=0.5, group=1, timeout_s=10)]


def errors_by_kind(records) -> Counter:
    found = Counter()
    for record in records:
        if record.status not in EXPECTED.get(record.kind, {200}):
            label = {0: "conn", -1: "timeout"}.get(record.status, str(record.status))
            found[f"{label} {record.kind}"] += 1
    return found


def check_writes(env: Environment, records) -> tuple[int, list[str]]:
    acknowledged = {r.note for r in records if r.kind == "write" and r.status == 303}
    stored = {row[0] for row in env.postgres.query("SELECT comment FROM page_feedback WHERE comment LIKE 'caos%%'")}
    missing = sorted(acknowledged - stored)
    return len(acknowledged), missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI form: the main faults, held briefly")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", nargs="*", metavar="WORD",
                        help="run only the faults whose name holds one of these words (the baseline always runs)")
    args = parser.parse_args()
    faults = chaos_faults.SHORT if args.short else chaos_faults.FULL
    if args.only:
        faults = [f for f in faults if f.name.startswith("baseline")
                  or any(word.lower() in f.name.lower() for word in args.only)]
    run_started = time.monotonic()
    env = Environment(args.workers, args.threads)
    results, load, records = [], None, None
    try:
        base = env.portal.url
        warm = Client(base, [])
        warm.get("warm", f"/api/v1/processos/{STORED}")  # stored before the load starts
        load = LoadRun(base, streams()).start()
        time.sleep(3)  # every client connected and logged in
        for fault in faults:
            print(f"chaos: {fault.name} …", file=sys.stderr, flush=True)
            results.append(chaos_faults.run_phase(env, fault))
        records = load.stop()
        acknowledged, missing = check_writes(env, records)
    finally:
        if load is not None and records is None:
            load.abort()
            print(f"chaos: stopped early; the portal's logs are in {env.tmp}", file=sys.stderr)
        env.close()
    verdicts = chaos_faults.judge(results, records, errors_by_kind, args.workers)
    print_table(verdicts, records)
    print(f"\nacknowledged writes: {acknowledged}, missing afterwards: {len(missing)}"
          + (f" ({', '.join(missing[:5])}…)" if missing else ""))
    print(f"whole run: {time.monotonic() - run_started:.0f} s, {len(records)} requests "
          f"({args.workers} workers x {args.threads} threads)")
    failed = [f"{v['fault']}: {problem}" for v in verdicts for problem in v["problems"]]
    if missing:
        failed.append(f"{len(missing)} acknowledged writes missing")
    never = errors_by_kind([r for r in records if r.status == 500])
    if never:
        failed.append(f"500 answers: {dict(never)}")
    outside = errors_by_kind([r for r in records if not any(v["window"][0] <= r.started < v["window"][1]
                                                            for v in verdicts)])
    if outside:
        print(f"errors between the faults' windows: {dict(outside)}")
        failed.append(f"errors between the faults' windows: {dict(outside)}")
    save(verdicts, acknowledged, missing, args)
    for line in failed:
        print("FAILED:", line)
    print("chaos: every fault survived" if not failed else f"chaos: {len(failed)} checks failed; the portal's logs "
          f"are in {env.tmp}")
    if not failed:
        shutil.rmtree(env.tmp, ignore_errors=True)
    return 1 if failed else 0


def print_table(verdicts, records) -> None:
    header = (f"{'fault':30} {'s':>4} {'requests':>8} {'source calls':>12} {'p99 home':>9} {'p99 all':>8} "
              f"{'cut-off':>8} {'recovery':>9}  errors by kind")
    print(header)
    print("-" * len(header))
    for v in verdicts:
        errors = ", ".join(f"{kind} x{count}" for kind, count in v["errors"].most_common()) or "none"
        print(f"{v['fault']:30} {v['seconds']:4.0f} {v['requests']:8d} {v['source_calls']:>12} "
              f"{_ms(v['p99_home']):>9} {_ms(v['p99_all']):>8} {_s(v['cut_off_s']):>8} {_s(v['recovery_s']):>9}  "
              f"{errors}" + ("" if not v["problems"] else "  << " + "; ".join(v["problems"])))
    acceptance = [v for v in verdicts if v.get("acceptance")]
    for v in acceptance:
        a = v["acceptance"]
        print(f"\nDataJud answering in 20 s, 8 lookups of unseen numbers at once: home page {a['home_rps']:.0f} req/s "
              f"({a['share']:.0%} of the {a['baseline_rps']:.0f} req/s before), p99 {a['home_p99_ms']:.0f} ms; "
              f"/health/ready slowest answer {a['ready_max_ms']:.0f} ms")
    overall = summary(records)
    print(f"\nall requests: {overall['requests']}, statuses {dict(sorted(overall['statuses'].items()))}")


def _ms(value) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _s(value) -> str:
    return "-" if value is None else f"{value:.1f} s"


def save(verdicts, acknowledged, missing, args) -> None:
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    document = {"short": args.short, "workers": args.workers, "threads": args.threads,
                "acknowledged_writes": acknowledged, "missing_writes": missing,
                "faults": [{**v, "errors": dict(v["errors"])} for v in verdicts]}
    (results / f"chaos-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    sys.exit(main())
