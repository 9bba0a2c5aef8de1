"""A stored process while its source is down: latency of the page and the API under load.

    .venv/bin/python bench/lookup_bench.py            (needs ../shared/fixtures/datajud; wrk if installed)

Starts a fake DataJud on loopback and the portal under gunicorn (production settings for this machine),
looks the TJES fixture up once, takes the fake down (HTTP 503), ages the cache and the stored copy past
their TTLs (PROCESS_CACHE_TTL=1, PROCESS_DB_TTL=1), and loads the stale answers (bench/load.py's `measure`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import free_port, measure  # noqa: E402
from tests.fake_datajud import FakeDataJud, load_documents  # noqa: E402

NUMBER = "0022783-22.2017.8.08.0024"


def main() -> None:
    shared = ROOT.parent / "shared" / "fixtures" / "datajud"
    if not shared.is_dir():
        raise SystemExit("needs ../shared/fixtures/datajud")
    fake = FakeDataJud(load_documents(shared))
    tmp = Path(tempfile.mkdtemp(prefix="lookup-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "APP_ENV")}
    env.update(SESSION_SECRET="bench-" + "s" * 40, DATABASE_URL=f"sqlite:///{tmp}/portal.db",
               LOG_FILE=str(tmp / "portal.log"), DATAJUD_BASE_URL=fake.url, PROCESS_CACHE_TTL="1",
               PROCESS_DB_TTL="1", LOOKUP_RATE_LIMIT="1000000/minute")
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    port = free_port()
    workers = str(2 * (os.cpu_count() or 1) + 1)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", workers,
                               "-b", f"127.0.0.1:{port}", "app:create_app()"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/health/live", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        urllib.request.urlopen(f"{base}/api/v1/processos/{NUMBER}", timeout=10).read()  # fetched and stored
        fake.set("503")
        time.sleep(2.5)  # past both TTLs: every answer is now the stale stored copy
        rows = []
        # 16 connections saturate two cores (latency is then queueing); 4 is a busy day at a court portal.
        for label, path in (("API, stored copy, source down", f"/api/v1/processos/{NUMBER}"),
                            ("page, stored copy, source down", f"/processos/{NUMBER}")):
            measure(base + path, 3, 16)
            for connections in (16, 4):
                rows.append((f"{label}, c={connections}", measure(base + path, 10, connections)))
        dependency = fake.count
    finally:
        server.terminate()
        server.wait(10)
        fake.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'target':40} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for label, row in rows:
        print(f"{label:40} {row['rps']:8.0f} {row['p50_ms']:8.1f} {row['p90_ms']:8.1f} {row['p99_ms']:8.1f} "
              f"{row['non_2xx']:8d}")
    print(f"requests that reached the fake DataJud: {dependency} (1 fetch, then a few until the breaker opened)")


if __name__ == "__main__":
    main()
