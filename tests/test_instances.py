"""Two portal instances (two gunicorn masters on two loopback ports), one PostgreSQL database, one Redis and two RQ
workers with the schedule: what several instances must share, shown on loopback.

- a rate limit holds across both instances;
- a breaker opened on one is seen by the other;
- a session started on one is valid on the other;
- the dashboard of either sums both instances' requests;
- a worker killed mid-job leaves the job retried by the other worker: done once, not lost or doubled;
- each periodic job runs once per claimed interval slot in all (no slot run twice, none lost, a worker killed
  or not).
The Redis is a server of the test's own (tests.conftest.RedisServer) and every key has a prefix of its own.
"""
import math
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack

import httpx
import pytest
import redis
from rq import Queue, Retry, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

import config
from services.jobs import schedule
from tests.conftest import CONFIG_VARS, ROOT, TEST_PASSWORD, TEST_SECRET, RedisServer, gunicorn_portal

SAMPLE_S = 5
SETTINGS = {"MONITORING_SAMPLE_INTERVAL_S": str(SAMPLE_S), "SYNC_INTERVAL_S": "3600",
            "JOBS_MAINTENANCE_INTERVAL_S": "1", "LOGIN_RATE_LIMIT": "3/minute", "TRUSTED_PROXIES": "1",
            "LOG_LEVEL": "WARNING"}
ADMIN_ADDRESS = {"X-Forwarded-For": "198.51.100.7"}


def start_worker(stack: ExitStack, tmp, name: str, env: dict) -> subprocess.Popen:
    output = stack.enter_context(open(tmp / f"{name}.out", "wb"))  # noqa: SIM115 - closed by the stack
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "jobs", "worker", "--name", name],
                            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)


def log_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10, headers=ADMIN_ADDRESS)
    page = client.get("/admin/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = client.post("/admin/login", data={"csrf_token": token, "username": "chefe", "password": TEST_PASSWORD})
    assert answer.status_code == 302, answer.text[:300]
    return client


def csrf_header(client: httpx.Client) -> dict:
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/admin/auditoria").text).group(1)
    return {"X-CSRFToken": token}


def wait_for(predicate, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(message)


def test_two_instances_share_limits_breakers_sessions_figures_and_jobs(tmp_path, sqlite_template, postgres_url):
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    name = f"inst{uuid.uuid4().hex[:8]}"
    prefix = config.key_prefix({"REDIS_KEY_PREFIX": name})
    settings = {**SETTINGS, "DATABASE_URL": postgres_url, "REDIS_URL": redis_server.url, "REDIS_KEY_PREFIX": name}
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update(SESSION_SECRET=TEST_SECRET, LOG_FILE=str(tmp_path / "workers.log"), **settings)
    store = redis.Redis.from_url(redis_server.url)
    workers: dict[str, subprocess.Popen] = {}
    with ExitStack() as stack:
        stack.callback(redis_server.stop)
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        first = stack.enter_context(gunicorn_portal(tmp_path / "a", sqlite_template, users=(("chefe", "admin"),),
                                                    **settings))
        second = stack.enter_context(gunicorn_portal(tmp_path / "b", sqlite_template, **settings))
        started = time.time()
        for worker_name in ("w1", "w2"):
            workers[worker_name] = start_worker(stack, tmp_path, f"{name}-{worker_name}", env)

        def stop_workers():
            for process in workers.values():
                if process.poll() is None:
                    process.kill()
                    process.wait(10)
        stack.callback(stop_workers)

        # A session started on the first instance is valid on the second.
        admin_a = log_in(first)
        stack.callback(admin_a.close)
        admin_b = httpx.Client(base_url=second, timeout=10, headers=ADMIN_ADDRESS, cookies=admin_a.cookies)
        stack.callback(admin_b.close)
        assert admin_b.get("/api/v1/monitoring/jobs").status_code == 200

        # Either instance's jobs panel sees both workers (the queues live in Redis).
        def both_workers():
            panel = admin_b.get("/api/v1/monitoring/jobs").json()
            return panel if panel["alive_workers"] == 2 else None
        panel = wait_for(both_workers, 30, "the jobs panel never showed both workers")
        assert {worker["state"] for worker in panel["workers"]} <= {"idle", "busy", "started"}
        assert panel["mode"] == "rq" and [q["name"] for q in panel["queues"]] == ["high", "default", "low"]

        # A rate limit holds across both: 3 logins a minute per client, whichever instance answers.
        client = {"X-Forwarded-For": "203.0.113.77"}
        statuses = []
        for base in (first, second, first, second):
            with httpx.Client(base_url=base, timeout=10, headers=client) as anonymous:
                page = anonymous.get("/admin/login").text
                token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
                statuses.append(anonymous.post("/admin/login", data={"csrf_token": token, "username": "ninguem",
                                                                     "password": "errada"}).status_code)
        assert statuses[3] == 429 and 429 not in statuses[:3], statuses

        # A breaker opened on the first instance is seen by the second.
        opened = admin_a.post("/api/v1/monitoring/breakers/datajud/force_open", headers=csrf_header(admin_a))
        assert opened.status_code == 200, opened.text

        def datajud_on_second():
            deps = admin_b.get("/api/v1/monitoring/metrics").json()["dependencies"]
            return next(d for d in deps if d["name"] == "datajud")["breaker_this_worker"] == "forced_open"
        wait_for(datajud_on_second, 5, "the second instance never saw the breaker forced open")
        admin_a.post("/api/v1/monitoring/breakers/datajud/reset", headers=csrf_header(admin_a))

        # The dashboard of either sums both instances.
        for base, count in ((first, 3), (second, 7)):
            with httpx.Client(base_url=base, timeout=10) as visitor:
                for _ in range(count):
                    assert visitor.get("/health/live").status_code == 200
        seen_by_b = admin_b.get("/api/v1/monitoring/metrics").json()
        seen_by_a = admin_a.get("/api/v1/monitoring/metrics").json()
        instances = {row["name"]: row for row in seen_by_a["instances"]}
        assert len(instances) == 2 and len(seen_by_b["instances"]) >= 1
        assert seen_by_a["requests"]["total"] == sum(row["requests"] for row in instances.values())
        other = next(row for row in instances.values() if not row["this"])
        assert other["requests"] >= 7 and seen_by_a["requests"]["total"] >= other["requests"] + 3

        # A worker killed mid-job: the job is retried by the other worker and done once.
        queue = Queue(f"{prefix}default", connection=store, serializer=JSONSerializer)
        job = queue.enqueue_call("tests.jobs_samples.slow_marker", args=["kill", 2.5], timeout=5,
                                 retry=Retry(max=2))

        def runner():
            for worker in Worker.all(queue=queue):
                if worker.get_current_job_id() == job.id:
                    return worker.name
            return None
        holder = wait_for(runner, 20, "no worker took the job")
        victim = "w1" if holder.endswith("-w1") else "w2"
        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].wait(10)
        done_key = f"{prefix}done:kill"
        wait_for(lambda: store.get(done_key) == b"1", 40, "the killed worker's job was never run again")
        time.sleep(1.5)
        assert store.get(done_key) == b"1"  # not doubled
        job = Job.fetch(job.id, connection=store, serializer=JSONSerializer)
        assert job.get_status() == "finished" and job.retries_left == 1  # one retry spent by the abandonment

        # Each periodic job ran once per slot claimed, in all: the survivor stops after its current job (its
        # scheduler joined), then every slot's job (one id per slot, enqueued only where no job had it) has either
        # run once (counted) or still waits on a queue. A scheduler killed at any point loses no slot.
        survivor = workers["w2" if victim == "w1" else "w1"]
        wait_for(lambda: time.time() - started > 2.2 * SAMPLE_S, 30, "")
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(30)
        counts = {k.decode(): int(v) for k, v in store.hgetall(f"{prefix}jobs:counts").items()}
        waiting: dict[str, int] = {}
        for queue_name in schedule.QUEUES:
            pending = Queue(f"{prefix}{queue_name}", connection=store, serializer=JSONSerializer)
            for queued in pending.jobs:
                if queued.func_name == "services.jobs.engine.run_periodic":
                    waiting[queued.args[0]] = waiting.get(queued.args[0], 0) + 1
        for periodic in schedule.PERIODIC:
            job_prefix = re.sub(r"[^A-Za-z0-9_-]", "_", f"{prefix}periodic-{periodic.name}-")
            slot_jobs = list(store.scan_iter(match=f"rq:job:{job_prefix}*"))
            failed = [key for key in slot_jobs if store.hget(key, "status") == b"failed"]
            assert failed == [], [store.hget(key, "exc_info") for key in failed]
            assert counts.get(periodic.name, 0) + waiting.get(periodic.name, 0) == len(slot_jobs), \
                (periodic.name, counts.get(periodic.name, 0), waiting.get(periodic.name, 0), len(slot_jobs))
        interval_slots = math.floor(time.time() / SAMPLE_S) - math.floor(started / SAMPLE_S) + 1
        assert 3 <= counts["monitoring-sample"] + waiting.get("monitoring-sample", 0) <= interval_slots
        assert counts["sync"] == counts["retention"] == counts["chat-cleanup"] == 1
