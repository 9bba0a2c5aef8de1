"""What one request costs inside one process, without a server or a network: µs per request, per route.

    .venv/bin/python bench/request_cost.py [--requests N] [--redis]

Flask's test client against the app built as production builds it (a JSON log file, the limiter, metrics), a bare
Flask route for scale, and a stored process (API and page) fetched once from a fake DataJud; then gunicorn's work
on one response's header lines. The figures guide
work on the request pipeline; the throughput figures of record are `make bench`'s.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_datajud import FakeDataJud, load_documents  # noqa: E402

NUMBER = "0022783-22.2017.8.08.0024"


def per_request_us(client, path: str, requests: int, **kwargs) -> float:
    for _ in range(50):
        client.get(path, **kwargs)
    started = time.perf_counter()
    for _ in range(requests):
        response = client.get(path, **kwargs)
        if response.status_code >= 400:
            raise SystemExit(f"{path} answered {response.status_code}")
    return (time.perf_counter() - started) / requests * 1e6


def gunicorn_header_us(repeat: int = 50_000) -> tuple[float, float]:
    """gunicorn's work on one `/health/live` response's header lines (its checks and the header block), µs: as
    gunicorn ships, and with gunicorn.conf.py's check of the constant security headers once per worker."""
    import runpy
    import timeit

    import gunicorn.http.wsgi

    from utils.request_middleware import security_headers

    lines = [("Content-Type", "application/health+json"), ("Content-Length", "18"), ("Cache-Control", "no-store"),
             ("Vary", "Cookie"), *security_headers(True), ("X-Request-ID", "0123456789abcdef0123456789abcdef")]
    response_class = gunicorn.http.wsgi.Response

    def header_block():
        response = response_class.__new__(response_class)
        response.headers, response.response_length, response.upgrade = [], None, False
        response.process_headers(lines)
        "".join(["%s: %s\r\n" % pair for pair in response.headers]).encode("latin-1")  # noqa: UP031 - as send_headers

    def best() -> float:
        return min(timeit.repeat(header_block, number=repeat, repeat=5)) / repeat * 1e6

    as_shipped = best()
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="request-cost-metrics-"))
    runpy.run_path(str(ROOT / "gunicorn.conf.py"))["_check_constant_headers_once"]()
    return as_shipped, best()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--redis", action="store_true", help="use the Redis at 127.0.0.1:6379 (db 15)")
    args = parser.parse_args()
    fake = FakeDataJud(load_documents(ROOT.parent / "shared" / "fixtures" / "datajud"))
    tmp = tempfile.mkdtemp(prefix="request-cost-")
    os.environ.update(SESSION_SECRET="cost-" + "s" * 40, DATABASE_URL=f"sqlite:///{tmp}/portal.db",
                      LOG_FILE=f"{tmp}/portal.log", DATAJUD_BASE_URL=fake.url, LOOKUP_RATE_LIMIT="1000000/minute",
                      MONITORING_COLLECTOR="false", SYNC_ENABLED="false")
    if args.redis:
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    import subprocess

    from flask import Flask

    from app import create_app

    # A serving process does not load Flask-Migrate (app.py): the schema comes from the command an operator runs.
    subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "db", "upgrade"], cwd=ROOT, check=True,
                   capture_output=True)
    bare = Flask("bare")
    bare.add_url_rule("/", "hello", lambda: "hello")
    app = create_app()
    client = app.test_client()
    client.get(f"/api/v1/processos/{NUMBER}")  # fetched and stored once
    rows = [("bare Flask route", per_request_us(bare.test_client(), "/", args.requests))]
    for label, path in (("/health/live", "/health/live"), ("home page /", "/"), ("content page /servicos", "/servicos"),
                        ("stored process, API", f"/api/v1/processos/{NUMBER}"),
                        ("stored process, page", f"/processos/{NUMBER}")):
        rows.append((label, per_request_us(client, path, args.requests)))
    print(f"{'request':32} {'µs':>8} {'× bare':>7}")
    for label, micros in rows:
        print(f"{label:32} {micros:8.0f} {micros / rows[0][1]:7.1f}")
    fake.stop()
    as_shipped, checked_once = gunicorn_header_us()
    print(f"gunicorn's header work on /health/live's response: {as_shipped:.1f} µs as shipped, "
          f"{checked_once:.1f} µs with the security headers checked once (gunicorn.conf.py)")


if __name__ == "__main__":
    main()
