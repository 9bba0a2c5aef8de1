"""Fixtures: a fresh app and database for each test, built from the real factory and migrations."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask_migrate import upgrade

from app import create_app
from extensions import db
from utils import json_log

# Every variable config.py reads; none of the machine's values may leak into a test.
CONFIG_VARS = (
    "APP_ENV", "DATABASE_URL", "REDIS_URL", "SESSION_SECRET", "LOG_LEVEL", "LOG_FILE", "LOG_MAX_BYTES",
    "LOG_BACKUP_COUNT", "TRUSTED_PROXIES", "SLOW_QUERY_MS", "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_POOL_TIMEOUT",
    "DB_POOL_RECYCLE", "DB_CONNECT_TIMEOUT", "FEEDBACK_RETENTION_DAYS", "CACHE_MEMORY_MAX_ENTRIES",
    "REDIS_TIMEOUT_MS", "CACHE_DEFAULT_TTL", "DATAJUD_API_KEY", "ESCAVADOR_API_KEY", "SYNC_ENABLED",
    "SYNC_INTERVAL_S", "SYNC_BATCH_SIZE", "SYNC_DAILY_BUDGET", "PROCESS_CACHE_TTL", "PROCESS_DB_TTL",
    "PROCESS_NEGATIVE_TTL", "PROCESS_RETENTION_DAYS", "LOOKUP_RATE_LIMIT", "LOGIN_RATE_LIMIT",
    "LOGIN_ACCOUNT_RATE_LIMIT", "LOGIN_MAX_FAILURES", "LOGIN_LOCKOUT_S", "LOGIN_FRESH_S", "BREAKER_FAILURE_RATE",
    "BREAKER_MINIMUM_CALLS", "BREAKER_WINDOW_S", "BREAKER_HALF_OPEN_CALLS", "BREAKER_CLOSE_AFTER",
    "RETRY_MAX_ATTEMPTS", "RETRY_BUDGET_PERCENT", "OUTBOUND_CONNECT_TIMEOUT_S",
    "METRICS_ALLOWED_ADDRESSES", "MONITORING_COLLECTOR", "MONITORING_SAMPLE_INTERVAL_S", "MONITORING_HISTORY_SIZE",
    "ALERT_CPU_PERCENT", "ALERT_MEMORY_PERCENT", "ALERT_DISK_PERCENT", "ALERT_ERROR_RATE_PERCENT",
    "ALERT_P95_LATENCY_MS", "ALERT_CACHE_HIT_RATE_PERCENT", "ALERT_SYNC_FAILURES", "ALERT_CLEAR_MARGIN_PERCENT",
    "ALERT_CLEAR_AFTER_S", "PROMETHEUS_MULTIPROC_DIR",
    "OPENAI_API_KEY", "OPENAI_MODEL", "ASSISTANT_LLM_CONCURRENCY", "ASSISTANT_CACHE_TTL", "ASSISTANT_RATE_LIMIT",
    "CHAT_RETENTION_DAYS",
    *(f"{name}_{suffix}" for name in ("DATAJUD", "ESCAVADOR", "OPENAI")
      for suffix in ("BASE_URL", "READ_TIMEOUT_S", "DEADLINE_S", "BREAKER_OPEN_S", "RATE_PER_MIN")),
)
TEST_SECRET = "test-secret-" + "x" * 40
PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str):
    """Skip a test whose service is absent; with REQUIRE_SERVICES=1 (CI) that is a failure."""
    if services_required():
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """Build an app from environment variables (as in production) plus test overrides."""

    built = []

    def build(env: dict | None = None, migrate: bool = True, **overrides):
        settings = {"SESSION_SECRET": TEST_SECRET, "DATABASE_URL": f"sqlite:///{tmp_path}/portal.db",
                    "LOG_FILE": str(tmp_path / "portal.log")}
        settings.update(env or {})
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        application = create_app({"TESTING": True, **overrides})
        built.append(application)
        if migrate:
            with application.app_context():
                upgrade()
        return application

    yield build
    for application in built:
        if "resilience" in application.extensions:
            application.extensions["resilience"].close()
        with application.app_context():
            db.engine.dispose()
    for handler in [h for h in logging.getLogger().handlers if h.get_name() == json_log.HANDLER_NAME]:
        logging.getLogger().removeHandler(handler)
        handler.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def log_lines(tmp_path):
    """The JSON log lines written so far by the app built with the default LOG_FILE."""

    def read(path=None):
        path = path or tmp_path / "portal.log"
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    return read


def csrf_token_from(html: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html)
    match = tag and re.search(r'value="([^"]+)"', tag.group(0))
    assert match, "no CSRF token in the form"
    return match.group(1)


@pytest.fixture
def postgres_url():
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = "portal_test_" + uuid.uuid4().hex[:12]
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL is not reachable at {admin}: {str(exc).splitlines()[0]}")
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


TEST_PASSWORD = "senha-de-teste-longa"


def unique_address() -> str:
    """A client address of its own: rate-limit counters outlive one test app (Flask-Limiter keeps its storage)."""
    value = uuid.uuid4().int
    return f"10.{value % 250 + 1}.{(value >> 8) % 250 + 1}.{(value >> 16) % 250 + 1}"


def create_user(app, role: str = "admin", username: str | None = None, password: str = TEST_PASSWORD) -> str:
    from services import accounts

    username = username or f"{role}-{uuid.uuid4().hex[:10]}"
    with app.app_context():
        accounts.create(username, role, password)
    return username


@pytest.fixture
def login():
    """Log `client` in as a new user of `role` through the real login form; returns the username."""

    def log_in(client, app, role: str = "admin", username: str | None = None, password: str = TEST_PASSWORD) -> str:
        client.environ_base["REMOTE_ADDR"] = unique_address()
        username = username or create_user(app, role)
        token = csrf_token_from(client.get("/admin/login").get_data(as_text=True))
        response = client.post("/admin/login", data={"csrf_token": token, "username": username,
                                                     "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return username

    return log_in


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole session: Playwright's sync API allows one running instance per thread."""
    executable = chromium_path()
    if not executable:
        skip_or_fail("Chromium is not installed (Debian package 'chromium')")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn_portal(tmp: Path, workers: int = 1, threads: int = 4, users: tuple = (), **settings):
    """The portal under real gunicorn on a free loopback port, on a migrated SQLite database of its own.

    `users` are (username, role) pairs created with the CLI (password TEST_PASSWORD); yields the base URL.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "APP_ENV", "LOG_FILE")}
    env.update(SESSION_SECRET=TEST_SECRET, DATABASE_URL=f"sqlite:///{tmp}/portal.db",
               LOG_FILE=str(tmp / "portal.log"), **settings)
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    for username, role in users:
        subprocess.run([*flask, "users", "create", "--username", username, "--role", role, "--password-stdin"],
                       cwd=ROOT, env=env, check=True, capture_output=True, input=TEST_PASSWORD + "\n", text=True)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", str(workers), "--threads", str(threads),
         "-b", f"127.0.0.1:{port}", "app:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    pytest.fail("the portal did not start under gunicorn")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


SHARED_DATAJUD = ROOT.parent / "shared" / "fixtures" / "datajud"
OWN_DATAJUD = ROOT / "tests" / "fixtures" / "datajud"


@pytest.fixture
def datajud():
    """A fake DataJud on loopback serving the shared fixtures and the project's own quirk cases."""
    from tests.fake_datajud import FakeDataJud, load_documents

    if not SHARED_DATAJUD.is_dir():
        pytest.skip("shared DataJud fixtures not present (../shared/fixtures/datajud)")
    fake = FakeDataJud(load_documents(SHARED_DATAJUD, OWN_DATAJUD))
    yield fake
    fake.stop()
