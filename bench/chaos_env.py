"""What bench/chaos.py breaks: its own Redis, a database of its own on the machine's PostgreSQL, the shared fake
DataJud and fake model (../shared/tools, run where they are, never copied), and the portal under gunicorn.

Everything listens on loopback only. Redis is a private redis-server on a free port, so stopping it disturbs
nobody. PostgreSQL is the machine's cluster (a second one would cost more than the suite): the suite makes and
drops its own database, and its stop/restart faults use `pg_ctlcluster`; whatever happens, `close()` starts the
cluster again before it returns.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.load import ROOT, free_port, start_gunicorn

SHARED = ROOT.parent / "shared"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_USER, ADMIN_PASSWORD = "caos-admin", "senha-do-teste-de-caos-longa"


def _wait(condition, seconds: float, what: str) -> float:
    """Poll `condition()` every 0.1 s; the seconds it took, or RuntimeError naming `what`."""
    started = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            if condition():
                return time.monotonic() - started
        if time.monotonic() - started > seconds:
            raise RuntimeError(f"{what} not reached within {seconds:g} s")
        time.sleep(0.1)


def _get_json(url: str, timeout: float = 2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


class OwnRedis:
    """A redis-server of the suite's own on a free loopback port: no persistence, stopped and started at will."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                                     text=True).stdout.strip() == "PONG", 10, "redis-server answering")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class SharedFake:
    """../shared/tools/fake_datajud.py or fake_openai.py in a process of its own, with its control endpoints."""

    def __init__(self, script: str, *args: str):
        self.script = SHARED / "tools" / script
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(self.script), str(self.port), *self.args],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: self.count() >= 0, 10, f"{self.script.name} answering")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def mode(self, mode: str, delay: float = 0.0) -> None:
        body = json.dumps({"mode": mode, "delay": delay}).encode()
        request = urllib.request.Request(self.url + "/__mode", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=2).read()

    def count(self) -> int:
        found = _get_json(self.url + "/__count")
        return int(found.get("search", found.get("count", 0)))


class Postgres:
    """A database of the suite's own on the machine's cluster, and the cluster's stop/start/restart."""

    def __init__(self):
        import psycopg

        self.psycopg = psycopg
        self.name = "portal_chaos_" + secrets.token_hex(6)
        self.url = f"postgresql://postgres@127.0.0.1:5432/{self.name}"
        self.cluster = sorted(os.listdir("/etc/postgresql"))[-1]
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def ctl(self, action: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.cluster, "main", action],
                       check=True, capture_output=True, timeout=60)

    def up(self) -> bool:
        try:
            self.psycopg.connect(PG_ADMIN, connect_timeout=1).close()
            return True
        except self.psycopg.OperationalError:
            return False

    def wait_up(self, seconds: float = 30) -> float:
        return _wait(self.up, seconds, "PostgreSQL accepting connections")

    def query(self, sql: str, *params) -> list[tuple]:
        with self.psycopg.connect(self.url, connect_timeout=3) as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        if not self.up():
            with contextlib.suppress(Exception):
                self.ctl("start")
            self.wait_up(60)
        with self.psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def snapshot(destination: Path) -> Path:
    """A copy of this checkout's code: workers that gunicorn starts during the run (a killed one, a recycled one)
    load the code the run began with, whatever happens to the working tree meanwhile."""
    shutil.copytree(ROOT, destination, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "instance", "results", "__pycache__", ".pytest_cache", ".ruff_cache", "test-artifacts",
        "node_modules"))
    return destination


class Portal:
    """The portal from a snapshot of this checkout under gunicorn, production settings, 2 workers x 4 threads."""

    def __init__(self, tmp: Path, env: dict, workers: int, threads: int):
        self.tmp, self.workers = tmp, workers
        self.root = snapshot(tmp / "portal")
        self.killed: int | None = None
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "APP_"))},
                    **env, "GUNICORN_THREADS": str(threads), "WEB_CONCURRENCY": str(workers)}
        flask = [sys.executable, "-m", "flask", "--app", "app"]
        for command, given in ((["db", "upgrade"], None),
                               (["users", "create", "--username", ADMIN_USER, "--role", "admin", "--password-stdin"],
                                ADMIN_PASSWORD + "\n")):
            done = subprocess.run([*flask, *command], cwd=self.root, env=self.env, capture_output=True, input=given,
                                  text=True)
            if done.returncode != 0:
                raise RuntimeError(f"flask {' '.join(command[:2])} failed: {done.stderr.strip()[-2000:]}")
        self.log = open(tmp / "gunicorn.log", "wb")  # noqa: SIM115 - open for the server's whole life
        self.process, self.url = start_gunicorn("app:create_app()", self.env, workers, threads, log=self.log,
                                                root=self.root)
        _wait(lambda: len(self.worker_pids()) == workers and _get_json(self.url + "/health/live"), 60,
              "every gunicorn worker up")
        # With Redis the periodic work (the monitoring sample that raises alerts, the sync) runs on an RQ worker
        # with the schedule, as in production (deploy/): one beside the portal.
        self.jobs_log = open(tmp / "jobs-worker.log", "wb")  # noqa: SIM115 - open for the worker's whole life
        self.jobs_worker = subprocess.Popen([*flask, "jobs", "worker"], cwd=self.root, env=self.env,
                                            stdout=self.jobs_log, stderr=subprocess.STDOUT)

    def worker_pids(self) -> list[int]:
        import psutil

        return sorted(child.pid for child in psutil.Process(self.process.pid).children())

    def kill_worker(self) -> int:
        pids = self.worker_pids()
        if not pids:
            raise RuntimeError(f"gunicorn has no worker left: see {self.tmp / 'gunicorn.log'}")
        self.killed = pids[0]
        os.kill(self.killed, signal.SIGKILL)
        return self.killed

    def stop(self) -> None:
        for process in (self.jobs_worker, self.process):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.jobs_log.close()
        self.log.close()


class Environment:
    """Everything started in order, stopped in reverse by `close()` (PostgreSQL always left running)."""

    def __init__(self, workers: int = 2, threads: int = 4):
        self.tmp = Path(tempfile.mkdtemp(prefix="portal-chaos-"))
        self.postgres = self.redis = self.datajud = self.model = self.portal = None
        try:
            self.postgres = Postgres()
            self.redis = OwnRedis(self.tmp)
            self.redis.start()
            self.datajud = SharedFake("fake_datajud.py", str(SHARED / "fixtures" / "datajud"))
            self.datajud.start()
            self.model = SharedFake("fake_openai.py")
            self.model.start()
            self.portal = Portal(self.tmp, self.portal_env(), workers, threads)
        except BaseException:
            self.close()
            raise

    def portal_env(self) -> dict:
        return {
            "APP_ENV": "production", "SESSION_SECRET": secrets.token_urlsafe(48), "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url, "LOG_FILE": str(self.tmp / "portal.log"),
            "DATAJUD_BASE_URL": self.datajud.url, "OPENAI_BASE_URL": self.model.url + "/v1",
            "OPENAI_API_KEY": "chave-do-modelo-falso",
            # Breakers reopen for trials after 5 s instead of 60/30 s, so a run sees them close again.
            "DATAJUD_BREAKER_OPEN_S": "5", "OPENAI_BREAKER_OPEN_S": "5",
            # Stored copies expire after 5 s, so stored lookups ask the source (and get the stored copy on a fault).
            "PROCESS_CACHE_TTL": "5", "PROCESS_DB_TTL": "5",
            # Every client is 127.0.0.1 here: the per-client limits would refuse the load itself.
            "LOOKUP_RATE_LIMIT": "100000/minute", "ASSISTANT_RATE_LIMIT": "100000/minute",
            "LOGIN_RATE_LIMIT": "1000/minute", "FEEDBACK_RATE_LIMIT": "100000/minute", "ASSISTANT_CACHE_TTL": "0",
            "SYNC_ENABLED": "false", "MONITORING_SAMPLE_INTERVAL_S": "5",
        }

    def close(self) -> None:
        for part, stop in ((self.portal, "stop"), (self.model, "kill"), (self.datajud, "kill"),
                           (self.redis, "stop"), (self.postgres, "close")):
            if part is not None:
                with contextlib.suppress(Exception):
                    getattr(part, stop)()
        if self.postgres is not None and not self.postgres.up():  # never leave the machine's database stopped
            self.postgres.ctl("start")
