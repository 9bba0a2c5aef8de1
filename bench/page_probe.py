"""One process, one thread: the stored process page while its source is down, request after request.

    .venv/bin/python bench/page_probe.py [seconds] [--no-freeze]

Shows per-request latency without gunicorn or wrk in the way, and the garbage collector's pauses (measured
with gc.callbacks), with the start-up heap frozen as gunicorn.conf.py does in each worker (or not).
"""
from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_datajud import FakeDataJud, load_documents  # noqa: E402

NUMBER = "0022783-22.2017.8.08.0024"


def main() -> None:
    seconds = float(next((a for a in sys.argv[1:] if not a.startswith("--")), 15))
    fake = FakeDataJud(load_documents(ROOT.parent / "shared" / "fixtures" / "datajud"))
    tmp = tempfile.mkdtemp(prefix="page-probe-")
    os.environ.update(SESSION_SECRET="probe-" + "s" * 40, DATABASE_URL=f"sqlite:///{tmp}/portal.db",
                      LOG_FILE=f"{tmp}/portal.log", DATAJUD_BASE_URL=fake.url, PROCESS_CACHE_TTL="1",
                      PROCESS_DB_TTL="1", LOOKUP_RATE_LIMIT="1000000/minute")
    from flask_migrate import upgrade

    from app import create_app

    app = create_app()
    with app.app_context():
        upgrade()
    client = app.test_client()
    client.get(f"/api/v1/processos/{NUMBER}")  # fetched and stored
    fake.set("503")
    time.sleep(5.5)  # past both TTLs and the fetch rendezvous: the stored copy is now stale
    if "--no-freeze" not in sys.argv:
        gc.freeze()
    pauses, started = [], {}

    def watch(phase, info):
        if phase == "start":
            started["at"] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - started["at"]))

    gc.callbacks.append(watch)
    latencies = []
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        began = time.perf_counter()
        client.get(f"/processos/{NUMBER}")
        latencies.append(time.perf_counter() - began)
    gc.callbacks.remove(watch)
    fake.stop()
    latencies.sort()
    ms = [value * 1000 for value in latencies]
    print(f"requests {len(ms)}  p50 {ms[len(ms) // 2]:.1f} ms  p99 {ms[int(len(ms) * 0.99)]:.1f} ms  "
          f"max {ms[-1]:.1f} ms  over 50 ms: {sum(1 for value in ms if value > 50)}")
    for generation in (0, 1, 2):
        times = [p * 1000 for g, p in pauses if g == generation]
        if times:
            print(f"gc generation {generation}: {len(times)} collections, longest {max(times):.1f} ms")


if __name__ == "__main__":
    main()
