"""How long a /metrics scrape takes to merge the workers' files after many worker restarts.

    .venv/bin/python bench/scrape_bench.py                  (500 restarts, 20 scrapes)
    .venv/bin/python bench/scrape_bench.py --restarts 2000 --scrapes 50

A worker process writes its metric files (prometheus_client's multiprocess mode), then each of `--restarts`
dead workers leaves a copy of them that `scrape.compact_dead_worker` folds as the worker dies (as gunicorn's
child_exit hook does); the figure is the time of one merged scrape over what is left (median and worst of
`--scrapes`). The suite checks the behaviour (the files stay a handful, no count is lost:
tests/test_metrics.py); this prints the time, which depends on the machine. Run by hand, not by the tests.
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKER = """
import sys
from services.monitoring import metrics
for _ in range(int(sys.argv[1])):
    metrics.request_finished("/w", "GET", 200, 0.004)
    metrics.request_started("/w")
metrics.breaker_state("datajud", "open")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=500)
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="scrape-bench-"))
    try:
        # The multiprocess directory must be set before prometheus_client is imported.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        from services.monitoring import scrape

        subprocess.run([sys.executable, "-c", WORKER, "2"], cwd=ROOT, env=dict(os.environ), check=True)
        files = glob.glob(str(directory / "*.db"))
        started = time.perf_counter()
        for fake_pid in range(100_000, 100_000 + args.restarts):
            for path in files:
                kind = os.path.basename(path).rsplit("_", 1)[0]
                shutil.copy(path, directory / f"{kind}_{fake_pid}.db")
            scrape.compact_dead_worker(fake_pid, str(directory))
        folding_s = time.perf_counter() - started

        durations, total = [], None
        for _ in range(args.scrapes):
            started = time.perf_counter()
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=str(directory))
            snapshot = scrape.Snapshot(list(registry.collect()))
            durations.append(time.perf_counter() - started)
            total = snapshot.total("portal_http_requests_total", route="/w")
        left = len(glob.glob(str(directory / "*.db")))
        print(f"{args.restarts} worker restarts folded in {folding_s:.2f} s; {left} metric files left")
        print(f"scrape (merge + read) over them: median {statistics.median(durations) * 1000:.1f} ms, "
              f"worst {max(durations) * 1000:.1f} ms over {args.scrapes} scrapes; "
              f"requests counted {total:.0f} (expected {2 * (args.restarts + 1)})")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
