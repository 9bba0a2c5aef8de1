"""Requests per second of the portal against a bare Flask route, on this machine (wrk, else bench/load.py).

    make bench            (or: .venv/bin/python bench/throughput.py --seconds 10)

Both apps run under gunicorn with the same worker settings (default gthread, 2 workers x 8 threads;
--worker-class sync --threads 1 for the comparison that chose the worker class), the
portal on the embedded defaults (SQLite, LOG_FILE set, as in production). Each target gets a warm-up
run and then a measured run; the result is printed as a table and written to bench/results/.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import measure, start_gunicorn  # noqa: E402

TARGETS = [
    ("bare Flask route", "bare", "/"),
    ("pipeline only (/health/live)", "portal", "/health/live"),
    ("public page (/)", "portal", "/"),
    ("public page (/servicos)", "portal", "/servicos"),
    ("FAQ (/perguntas-frequentes)", "portal", "/perguntas-frequentes"),
    ("static file (site.css)", "portal", "/static/css/site.css"),
    ("not found page", "portal", "/nao-existe"),
    ("pipeline only, again", "portal", "/health/live"),
    ("bare Flask route, again", "bare", "/"),
]


def start(app: str, env: dict, args) -> tuple[subprocess.Popen, str]:
    return start_gunicorn(app, env, args.workers, args.threads, args.worker_class)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    # Defaults: what gunicorn.conf.py gives (one worker per CPU, at least 2; 4 threads).
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 1))
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", choices=("gthread", "sync"))
    parser.add_argument("--only", help="measure only the targets whose path is this one, e.g. /")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "APP_ENV")}
    env.update(SESSION_SECRET="bench-" + "s" * 40, DATABASE_URL=f"sqlite:///{tmp}/portal.db",
               LOG_FILE=str(tmp / "portal.log"))
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    servers = {}
    try:
        servers["bare"] = start("bench.bare_app:create_app()", env, args)
        servers["portal"] = start("app:create_app()", env, args)
        rows = []
        for label, server, path in TARGETS:
            if args.only and server != "bare" and path != args.only:
                continue
            url = servers[server][1] + path
            measure(url, 3, args.connections)  # warm-up
            rows.append({"target": label, "path": path, **measure(url, args.seconds, args.connections)})
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    bare = rows[0]["rps"]
    print(f"{'target':34} {'req/s':>9} {'% of bare':>10} {'p99 ms':>8} {'non-2xx':>8}")
    for row in rows:
        row["share_of_bare"] = round(row["rps"] / bare, 3)
        print(f"{row['target']:34} {row['rps']:9.0f} {row['share_of_bare']:10.0%} {row['p99_ms']:8.1f} "
              f"{row['non_2xx']:8d}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    meta = {"seconds": args.seconds, "connections": args.connections, "workers": args.workers, "threads": args.threads,
            "worker_class": args.worker_class, "cpus": os.cpu_count()}
    (results / f"throughput-{stamp}.json").write_text(json.dumps({"settings": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
