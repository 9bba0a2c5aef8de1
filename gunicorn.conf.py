"""Gunicorn settings for production: gunicorn "app:create_app()" -c gunicorn.conf.py

Worker class, by measurement (`bench/throughput.py --only /`, 2 cores, 5 workers, wrk -t2 -c32 -d8s on
the home page): gthread with 4 threads served 2,349 req/s at a p99 of 58 ms; sync served 2,387 req/s
at a p99 of 459 ms. Same throughput, an eighth of the tail latency, and a gthread worker keeps serving
while one of its requests waits on a slow upstream (DataJud, the LLM), where a sync worker is blocked
for the whole wait. So: gthread.

Workers, by measurement (2 cores, production settings, wrk -t2 -c64 for 6 s per route, 2026-12-04): one
gthread worker per core served more than the usual 2 x cores + 1 and with half the tail — /health/live 4,866
req/s at a p99 of 30 ms with 2 workers against 4,371 at 60 ms with 5; the stored process page 3,361 at 34 ms
against 3,254 at 49 ms. Five processes on two cores spend their time taking the cores from each other; the
threads already overlap the waits. Each worker also holds its own copy of the app (~100 MB).
"""
import gc
import multiprocessing
import os
import shutil
import sys
import tempfile

import gunicorn.http.wsgi
from gunicorn.glogging import Logger

# Prometheus multiprocess mode: every worker writes its metrics to files in this directory and a scrape
# merges them (services/monitoring/metrics.py). It must be in the environment before any worker imports
# prometheus_client, so it is set here, in the master, while the config is read. An operator may name
# the directory (PROMETHEUS_MULTIPROC_DIR, e.g. on a tmpfs); otherwise a private one is made per start.
_metrics_dir_owned = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir_owned:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="portal-metrics-")
metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]

# WEB_CONCURRENCY and GUNICORN_THREADS are the usual knobs of a gunicorn deployment.
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")


def _kernel_migrates_listener_queues() -> bool:
    try:
        with open("/proc/sys/net/ipv4/tcp_migrate_req", encoding="ascii") as setting:
            return setting.read().strip() == "1"
    except OSError:
        return False


# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections over them.
# On one shared socket, the first worker to wake accepts a whole burst of keep-alive connections: measured with
# 2 workers and wrk -c64, every 5 s window had either all 64 on one worker (1,500-1,900 req/s, one core busy) or
# them split (5,000-5,900 req/s), at random, for the bare app as for the portal. But a worker that exits (recycled
# after max_requests, killed) closes its socket, and the connections waiting in its queue are reset unless the
# kernel hands them to a sibling: net.ipv4.tcp_migrate_req=1 (Linux 5.14+; deploy/sysctl.d). Measured, bare app
# recycled every 3,000 requests under wrk -c64 for 10 s: 257 socket errors without it, 0 with it. So own sockets
# only where the kernel migrates; otherwise the shared socket, uneven but losing nothing.
reuse_port = _kernel_migrates_listener_queues()
# gunicorn's control socket defaults to one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl), shared by every
# instance on the machine: off unless an instance names its own.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
# Requests with absurd header lines are refused by gunicorn before the app (the app refuses bodies over 16 MB).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# gunicorn writes its own "Server: gunicorn" line; the portal names no product or version.
gunicorn.http.wsgi.SERVER = "portal"

# The app answers every request within its own outbound deadlines (the longest, the assistant's
# LLM call, is 30 s and falls back to retrieval); the worker timeout sits above them so gunicorn
# never kills a worker that is about to answer, and a stuck worker is still recycled.
timeout = 45
graceful_timeout = 30  # on SIGTERM, in-flight requests get this long to finish
keepalive = 5
# Recycling guards against slow leaks. At 5,000 a loaded worker (~200 req/s) restarted every ~25 s, and
# each restart cost a cold start (content, the assistant's index, an empty memory cache): the lookup
# benchmark's 0.5–1 s tails were those restarts (worker start-up lines at the same instants in the log).
# At 100,000 both workers of `make bench` restarted within the same row every ~40 s of full load, and the clients'
# reconnected keep-alive connections all stayed on the worker that was up (one row fell to 0.26 of the bare app).
# A worker's memory levels off as its caches fill (docs/BENCHMARKS.md: the memory and endurance rows), so one
# restart per million requests (days, at a court's traffic) is the safety net.
max_requests = 1_000_000
max_requests_jitter = 100_000



class PortalGunicornLogger(Logger):
    """gunicorn's logger without its access line: the app writes one JSON line per request itself, and gunicorn's
    would repeat it unmasked. gunicorn still builds the line's fields whenever a logging config is given (as here,
    for its error log), ~4 % of a worker's time on a plain GET; this logger never builds them."""

    def access(self, resp, req, environ, request_time):
        return None


logger_class = PortalGunicornLogger
accesslog = None
errorlog = "-"
loglevel = "info"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "utils.json_log.MaskingJsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": []},  # the app installs its own JSON handler on the root logger
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}


def on_starting(server):
    """Refuse to start the master at all on a bad setting: one line, no traceback, no worker loop."""
    import config

    try:
        config.from_environment(os.path.join(os.path.dirname(os.path.abspath(__file__)), "instance"))
    except config.ConfigError as exc:
        print(f"portal: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    from services.monitoring import scrape

    scrape.reset_directory(metrics_dir)  # a previous run's counts must not leak into this one


def _check_constant_headers_once() -> None:
    """gunicorn checks every line of every response against two regular expressions (Response.process_headers).
    The portal's security headers are the same lines on every response, and checking them was most of gunicorn's
    header work (docs/BENCHMARKS.md, "headers"). They are checked once here, by gunicorn's own code (an invalid
    one stops the worker), then recognised; every other line is still checked on every response, and a header
    that differs from these (another deploy's) is checked as any other: nothing passes unchecked."""
    from utils.request_middleware import security_headers

    response_class = gunicorn.http.wsgi.Response
    check = response_class.process_headers
    constant = frozenset(security_headers(True))
    probe = response_class.__new__(response_class)
    probe.headers, probe.response_length, probe.upgrade = [], None, False
    check(probe, list(constant))
    if len(probe.headers) != len(constant):  # a hop-by-hop line would be dropped: never pass one through
        return

    def process_headers(self, headers):
        try:
            unknown = [pair for pair in headers if pair not in constant]
        except TypeError:  # a line that is not a (name, value) tuple: gunicorn's check says what is wrong
            return check(self, headers)
        check(self, unknown)
        if len(unknown) != len(headers):
            self.headers.extend(pair for pair in headers if pair in constant)

    response_class.process_headers = process_headers


def post_worker_init(worker):
    _check_constant_headers_once()
    # Everything alive now (the app, the content, the assistant's index) lives as long as the worker: moved
    # out of the collector's sight, so full collections stop scanning it. Measured in one process serving
    # the process page (gc callbacks): a gen-2 collection paused every thread for ~100 ms, ~6 ms frozen.
    gc.freeze()


def child_exit(server, worker):
    """In the master, after a worker died or was recycled: drop its live gauges, fold its counters and
    histograms into the archive files, so totals never go back and the directory does not grow."""
    from services.monitoring import scrape

    try:
        scrape.compact_dead_worker(worker.pid, metrics_dir)
    except Exception as exc:  # never let bookkeeping take the master down
        server.log.warning("metrics compaction failed for worker %s: %s", worker.pid, exc)


def on_exit(server):
    if _metrics_dir_owned:
        shutil.rmtree(metrics_dir, ignore_errors=True)
