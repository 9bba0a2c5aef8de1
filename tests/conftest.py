"""Fixtures: a fresh app and database for each test, built from the real factory and migrations.

Each test builds its own app with `create_app()`; only the migration work is shared: the migrations run once
per session into a SQLite template that each test copies, and once into a PostgreSQL database that each test
empties (every table but alembic_version) before it starts. The parsed court content and its search index
are shared too (the files do not change during a run), and test accounts' passwords use a small scrypt work
factor. Nothing a test leaves behind reaches another: each test's Redis keys live under a prefix of its own,
and the process-wide state the app keeps (Flask-Limiter's, the breaker gauge) is reset before each test; the
suite runs in random order (pytest-randomly) and in parallel (pytest-xdist, one process per module).
"""
from __future__ import annotations

import functools
import http.client
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis as redis_lib
from flask_migrate import upgrade

from app import create_app
from extensions import db, limiter
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


def _names_config_reads() -> set[str]:
    """Every variable config.load asks for with the embedded defaults: the list above may lag behind config.py."""
    import tempfile

    import config

    names: set[str] = set()

    class Recording(dict):
        def get(self, key, default=None):
            names.add(key)
            return super().get(key, default)

    with tempfile.TemporaryDirectory() as instance:
        config.load(Recording(), instance)
    return names


CONFIG_VARS = (*CONFIG_VARS, *sorted(_names_config_reads() - set(CONFIG_VARS)))
TEST_SECRET = "test-secret-" + "x" * 40
ROOT = Path(__file__).resolve().parent.parent
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


@pytest.fixture(autouse=True)
def no_breaker_states_from_earlier_tests():
    """The process's metrics outlive a test: a breaker another test opened must not read as open in this one
    (the dashboard and the alerts read breaker states from the metrics)."""
    from services.monitoring import metrics

    metrics.BREAKER_STATE.clear()


@contextmanager
def standalone_app(env: dict, **overrides):
    """An app outside any test (session fixtures, servers' set-up), from `env` alone; closed afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for name in CONFIG_VARS:
            patch.delenv(name, raising=False)
        for name, value in {"SESSION_SECRET": TEST_SECRET, **env}.items():
            patch.setenv(name, value)
        application = create_app({"TESTING": True, **overrides})
        try:
            yield application
        finally:
            _close(application)
            _remove_log_handlers()


def _migrate(env: dict) -> None:
    with standalone_app(env) as built, built.app_context():
        upgrade()


def _close(application) -> None:
    if "resilience" in application.extensions:
        application.extensions["resilience"].close()
    with application.app_context():
        db.engine.dispose()


def _remove_log_handlers() -> None:
    for handler in [h for h in logging.getLogger().handlers if h.get_name() == json_log.HANDLER_NAME]:
        logging.getLogger().removeHandler(handler)
        handler.close()


@pytest.fixture(scope="session", autouse=True)
def shared_content():
    """The repository's content/ parsed once for the session, and its search index built once (the files do
    not change during a run; both are read-only once built). Any other directory (test_content's broken
    copies) is read afresh, and gets its own index."""
    from services import content, search

    real_load, real_search_init, own = content.load, search.init_app, (ROOT / "content").resolve()
    parsed, indexes = {}, {}

    def load(directory):
        if Path(directory).resolve() != own:
            return real_load(directory)
        stamp = tuple((str(path), path.stat().st_mtime_ns) for path in sorted(own.rglob("*")) if path.is_file())
        if stamp not in parsed:
            parsed.clear()
            parsed[stamp] = real_load(directory)
        return parsed[stamp]

    def search_init_app(app):
        parsed_content = app.extensions["content"]
        if not any(parsed_content is shared for shared in parsed.values()):
            return real_search_init(app)
        if id(parsed_content) not in indexes:
            indexes.clear()
            real_search_init(app)
            indexes[id(parsed_content)] = app.extensions["search"]
        app.extensions["search"] = indexes[id(parsed_content)]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(content, "load", load)
        patch.setattr(search, "init_app", search_init_app)
        yield


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """scrypt with a small work factor: the same code paths and the same hash format, at a 32nd of the cost (a
    login per test, a hash each for the account and the attempt, would otherwise cost ~0.2 s)."""
    from werkzeug.security import generate_password_hash

    from services import accounts

    cheap = functools.partial(generate_password_hash, method="scrypt:1024:8:1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "generate_password_hash", cheap)
        patch.setattr(accounts, "_DUMMY_HASH", cheap("not-a-real-password-only-for-timing"))
        yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite database migrated to head, once per session; tests copy the file."""
    path = tmp_path_factory.mktemp("template") / "portal.db"
    _migrate({"DATABASE_URL": f"sqlite:///{path}", "LOG_FILE": str(path.with_suffix(".log"))})
    return path


# Where DataJud is unless a test gives its fake: a closed loopback port, so no test ever reaches the internet.
CLOSED_URL = "http://127.0.0.1:9"
# Databases already at head (the session's PostgreSQL database): make_app does not migrate them again.
MIGRATED_URLS: set[str] = set()


def fake_settings(datajud=None, escavador=None, openai=None) -> dict:
    """Settings that point the app at fakes on loopback, with timeouts short enough for a test."""
    settings = {}
    if datajud is not None:
        settings |= {"DATAJUD_BASE_URL": datajud.url, "DATAJUD_READ_TIMEOUT_S": "1", "DATAJUD_DEADLINE_S": "2"}
    if escavador is not None:
        settings |= {"ESCAVADOR_API_KEY": "test-key", "ESCAVADOR_BASE_URL": escavador.base_url,
                     "ESCAVADOR_READ_TIMEOUT_S": "1", "ESCAVADOR_DEADLINE_S": "3"}
    if openai is not None:
        settings |= {"OPENAI_API_KEY": "sk-test-key-123456", "OPENAI_BASE_URL": openai.url,
                     "OPENAI_MODEL": "fake-model", "OPENAI_READ_TIMEOUT_S": "2", "OPENAI_DEADLINE_S": "3"}
    return settings


@pytest.fixture
def make_app(tmp_path, monkeypatch, sqlite_template):
    """The one app builder: environment variables (as in production), fakes, then test overrides.

    `make_app(env, migrate=True, datajud=…, escavador=…, openai=…, **overrides)`: `env` wins over the
    fakes' settings (see `fake_settings`); `overrides` go to `create_app` as the test config. DataJud is
    a closed port unless `datajud` or `env` says otherwise. The database
    (default: SQLite in tmp_path) is brought to head: a copy of the session's template for a new SQLite
    file, nothing for the session's PostgreSQL database, the migrations otherwise.

    The apps of one test share a Redis key prefix of that test's own (CACHE_KEY_PREFIX, unless the test
    gives one): with a shared Redis they see each other, as workers do, and nothing another test left; the
    prefix's keys are removed afterwards.
    """

    built, prefix = [], f"test:{uuid.uuid4().hex[:12]}:"

    def build(env: dict | None = None, migrate: bool = True, *, datajud=None, escavador=None, openai=None,
              **overrides):
        settings = {"SESSION_SECRET": TEST_SECRET, "DATABASE_URL": f"sqlite:///{tmp_path}/portal.db",
                    "LOG_FILE": str(tmp_path / "portal.log"), "DATAJUD_BASE_URL": CLOSED_URL,
                    **fake_settings(datajud=datajud, escavador=escavador, openai=openai)}
        settings.update(env or {})
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        url = settings["DATABASE_URL"]
        new_sqlite = url.startswith("sqlite:///") and not os.path.exists(url.removeprefix("sqlite:///"))
        if migrate and new_sqlite:
            shutil.copyfile(sqlite_template, url.removeprefix("sqlite:///"))
        # Flask-Limiter is one object for every app of the process: a dead Redis of an earlier app must not
        # leave this one on the in-memory fallback.
        limiter._storage_dead = False
        application = create_app({"TESTING": True, "CACHE_KEY_PREFIX": prefix, **overrides})
        built.append(application)
        if migrate and not new_sqlite and url not in MIGRATED_URLS:
            with application.app_context():
                upgrade()
        return application

    yield build
    for application in built:
        _close(application)
    _remove_log_handlers()
    for redis_url in {a.config.get("REDIS_URL") for a in built if a.config["CACHE_KEY_PREFIX"] == prefix} - {None}:
        _forget_redis_keys(redis_url, prefix)


def _forget_redis_keys(url: str, prefix: str) -> None:
    """Remove the keys under `prefix` (a test's own) from the Redis at `url`; nothing if it is unreachable."""
    client = redis_lib.Redis.from_url(url, socket_connect_timeout=0.2, socket_timeout=1)
    try:
        names = list(client.scan_iter(match=prefix + "*", count=500))
        for start in range(0, len(names), 500):
            client.unlink(*names[start:start + 500])
    except redis_lib.RedisError:
        pass
    finally:
        client.close()


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


def _postgres_admin():
    """A connection to the server's `test` database (autocommit), or a skip/failure when it is not there."""
    import psycopg

    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        return psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL is not reachable at {admin}: {str(exc).splitlines()[0]}")


@contextmanager
def _new_postgres_database():
    """A new, empty PostgreSQL database; yields its URL and drops it afterwards."""
    name = "portal_test_" + uuid.uuid4().hex[:12]
    with _postgres_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with _postgres_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_postgres(tmp_path_factory):
    """One PostgreSQL database for the session, migrated to head once."""
    with _new_postgres_database() as url:
        log = tmp_path_factory.mktemp("postgres") / "migrate.log"
        _migrate({"DATABASE_URL": url, "LOG_FILE": str(log)})
        MIGRATED_URLS.add(url)
        yield url
        MIGRATED_URLS.discard(url)


@pytest.fixture
def postgres_url(migrated_postgres):
    """The session's migrated PostgreSQL database, emptied for this test: every table but alembic_version
    truncated (identities restarted); a connection a previous test left behind is ended first."""
    import psycopg

    with psycopg.connect(migrated_postgres, autocommit=True, connect_timeout=3) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        tables = [row[0] for row in conn.execute(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'")]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    return migrated_postgres


@pytest.fixture
def empty_postgres_url():
    """A new, empty PostgreSQL database for one test (the migrations' own test), dropped afterwards."""
    with _new_postgres_database() as url:
        yield url


class FakeClock:
    """A wall clock the test moves: `clock.advance(2)` is two seconds later, at once."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/health/ready", headers={"Connection": "close"})
        connection.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


@contextmanager
def gunicorn_portal(tmp: Path, template: Path, workers: int = 1, threads: int = 4, users: tuple = (),
                    **settings):
    """The portal under real gunicorn on a free loopback port, on a copy of the migrated SQLite `template`.

    `users` are (username, role) pairs (password TEST_PASSWORD); yields the base URL.
    """
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}  # none of the machine's settings
    env.update({"SESSION_SECRET": TEST_SECRET, "DATABASE_URL": f"sqlite:///{tmp}/portal.db",
                "LOG_FILE": str(tmp / "portal.log"), **settings})  # settings may name another database
    shutil.copyfile(template, tmp / "portal.db")
    if users:
        with standalone_app({"DATABASE_URL": env["DATABASE_URL"], "LOG_FILE": str(tmp / "setup.log")}) as setup:
            for username, role in users:
                create_user(setup, role, username)
    port = free_port()
    output = open(tmp / "server.out", "wb")  # noqa: SIM115 - closed below
    # No control socket: its default path is one per user, and servers of several tests (or of several
    # suites on the machine) run at once.
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", str(workers), "--threads", str(threads),
         "--no-control-socket", "-b", f"127.0.0.1:{port}", "app:create_app()"],
        cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        # Until a worker answers (a connection alone only reaches the master's backlog); generous, since a busy
        # machine can take long to boot a worker. /health/ready: no test counts its requests.
        deadline = time.time() + 60
        while not _answers(port):
            if time.time() > deadline or process.poll() is not None:
                output.flush()
                tail = (tmp / "server.out").read_text(errors="replace")[-1500:]
                pytest.fail(f"the portal did not start under gunicorn:\n{tail}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        output.close()


class RedisServer:
    """A redis-server of the test's own on a free port: nothing another test (or another suite on the
    machine) did to the shared Redis reaches it, and a test may kill, freeze and restart it."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            skip_or_fail("redis-server is not on PATH")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while True:
            client = redis_lib.Redis(port=self.port, socket_connect_timeout=0.2, socket_timeout=0.2)
            try:
                client.ping()
                return
            except redis_lib.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
            finally:
                client.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
            self.kill()


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


@pytest.fixture
def escavador():
    """A fake Escavador v2 on loopback serving tests/fixtures/escavador."""
    from tests.fake_escavador import FakeEscavador

    fake = FakeEscavador()
    yield fake
    fake.stop()


@pytest.fixture
def openai():
    """A fake OpenAI-compatible server on loopback."""
    from tests.fake_openai import FakeOpenAI

    fake = FakeOpenAI()
    yield fake
    fake.stop()


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own (a free port, its own directory): killed, paused or shared by two
    instances without touching the machine's Redis or another test's keys."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
