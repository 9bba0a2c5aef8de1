"""Every setting of the portal: its name, its default, and how its value is checked.

This is the only module that reads the environment. `load(environ, instance_path)` turns the
environment into a plain dict of Flask config keys, or raises `ConfigError` with one line that
names the variable at fault (config_values.py holds the parsers each value goes through). The
embedded defaults run the portal with nothing set: SQLite under `instance/`, the in-memory cache
and a session secret generated once and kept under `instance/`.
"""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from config_values import (
    ConfigError,
    addresses,
    choice,
    http_url,
    integer,
    mail_address,
    number,
    rate_limit,
    thresholds,
)

APP_ENVS = ("development", "production")
DATAJUD_PUBLIC_KEY = "cDZHYzlZa0JadVREZDJCendQbXY6SkJlTzNjLV9TRENyQk1RdnFKZGRQdw=="
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SECRET_FILE = "session_secret"  # noqa: S105 - a file name, not a secret
MIN_SECRET_LENGTH = 32
DEFAULT_MAIL_FROM = "Portal da 2ª Vara Cível de Cariacica <avisos@localhost.localdomain>"


@dataclass
class LoadedConfig:
    settings: dict
    warnings: list[str] = field(default_factory=list)


def key_prefix(environ) -> str:
    """REDIS_KEY_PREFIX: what every Redis key of this deployment starts with, so two deployments can share one
    Redis database (a staging and a production portal) without reading each other's cache, limits or breakers."""
    raw = (environ.get("REDIS_KEY_PREFIX") or "").strip() or "portal"
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", raw):
        raise ConfigError("REDIS_KEY_PREFIX must be 1 to 40 letters, digits, '-' or '_', got " + repr(raw))
    return f"{raw}:v1:"


def database_uri(environ, instance_path):
    """The SQLAlchemy URL: DATABASE_URL when set (PostgreSQL or SQLite), else SQLite in instance/."""
    raw = (environ.get("DATABASE_URL") or "").strip()
    if not raw:
        return "sqlite:///" + os.path.join(instance_path, "portal.db")
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a valid database URL (expected postgresql://… or sqlite:///…)") from None
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql"):
        # psycopg 3 is the installed driver, whatever the URL names.
        url = url.set(drivername="postgresql+psycopg")
        if not url.database:
            raise ConfigError("DATABASE_URL names no database (postgresql://user@host:port/DATABASE)")
    elif backend != "sqlite":
        raise ConfigError(f"DATABASE_URL must be a PostgreSQL or SQLite URL, got the scheme {url.drivername!r}")
    return url.render_as_string(hide_password=False)


def redis_url(environ):
    raw = (environ.get("REDIS_URL") or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise ConfigError("REDIS_URL must look like redis://host:6379/0, rediss://… or unix:///path")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ConfigError("REDIS_URL has a port that is not a number") from None
    return raw


def session_secret(environ, instance_path, production):
    """SESSION_SECRET, required in production; in development a random one kept under instance/."""
    raw = (environ.get("SESSION_SECRET") or "").strip()
    if raw:
        if len(raw) < MIN_SECRET_LENGTH:
            raise ConfigError(f"SESSION_SECRET must be at least {MIN_SECRET_LENGTH} characters long")
        return raw, None
    if production:
        raise ConfigError("SESSION_SECRET is required when APP_ENV=production")
    path = os.path.join(instance_path, SECRET_FILE)
    try:
        # O_EXCL: when several workers start at once, exactly one writes the secret and all read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    with open(path, encoding="utf-8") as handle:
        value = handle.read().strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(f"the generated session secret in {path} is damaged; delete the file to make a new one")
    return value, f"SESSION_SECRET is not set: using the development secret kept in {path}"


def engine_options(environ, uri):
    """Connection-pool settings for PostgreSQL; SQLite keeps SQLAlchemy's defaults."""
    if not uri.startswith("postgresql"):
        return {}
    return {
        "pool_size": integer(environ, "DB_POOL_SIZE", 5, minimum=1, maximum=100),
        "max_overflow": integer(environ, "DB_MAX_OVERFLOW", 10, minimum=0, maximum=100),
        "pool_timeout": integer(environ, "DB_POOL_TIMEOUT", 5, minimum=1, maximum=60),
        "pool_recycle": integer(environ, "DB_POOL_RECYCLE", 1800, minimum=60),
        "pool_pre_ping": True,
        "connect_args": {"connect_timeout": integer(environ, "DB_CONNECT_TIMEOUT", 3, minimum=1, maximum=60)},
    }


# Dependency services and their defaults: (base URL, read timeout s, whole-call deadline s, breaker open s,
# slow call s, client-side rate limit per minute). The deadlines stay below gunicorn's 45 s timeout.
DEPENDENCY_DEFAULTS = {
    "datajud": ("https://api-publica.datajud.cnj.jus.br", 10.0, 15.0, 60.0, 8.0, None),
    "escavador": ("https://api.escavador.com/api/v2", 10.0, 15.0, 30.0, 8.0, 500.0),
    "openai": ("https://api.openai.com/v1", 25.0, 30.0, 30.0, 20.0, None),
}


def dependencies(environ) -> dict:
    connect_timeout = number(environ, "OUTBOUND_CONNECT_TIMEOUT_S", 3.0, minimum=0.1, maximum=30)
    # The bulkhead: no dependency may hold more than half of a worker's threads (gunicorn.conf.py's
    # GUNICORN_THREADS, read here too so the default follows it).
    threads = integer(environ, "GUNICORN_THREADS", 4, minimum=1, maximum=1000)
    bulkhead = integer(environ, "BULKHEAD_MAX_CONCURRENT", max(1, threads // 2), minimum=1, maximum=1000)
    result = {}
    for name, (url, read, deadline, open_s, slow, rate) in DEPENDENCY_DEFAULTS.items():
        prefix = name.upper()
        spec = {
            "base_url": http_url(environ, f"{prefix}_BASE_URL", url),
            "connect_timeout_s": connect_timeout,
            "read_timeout_s": number(environ, f"{prefix}_READ_TIMEOUT_S", read, minimum=0.1, maximum=40),
            "deadline_s": number(environ, f"{prefix}_DEADLINE_S", deadline, minimum=0.1, maximum=40),
            "breaker_open_s": number(environ, f"{prefix}_BREAKER_OPEN_S", open_s, minimum=1),
            "slow_call_s": slow,
            "rate_per_min": number(environ, f"{prefix}_RATE_PER_MIN", rate, minimum=1),
            "max_concurrent": integer(environ, f"{prefix}_MAX_CONCURRENT", bulkhead, minimum=1, maximum=1000),
        }
        result[name] = spec
    return result


def breaker_defaults(environ) -> dict:
    return {
        "failure_rate": number(environ, "BREAKER_FAILURE_RATE", 50.0, minimum=1, maximum=100) / 100,
        "minimum_calls": integer(environ, "BREAKER_MINIMUM_CALLS", 5, minimum=1),
        "window_s": integer(environ, "BREAKER_WINDOW_S", 30, minimum=1, maximum=3600),
        "half_open_calls": integer(environ, "BREAKER_HALF_OPEN_CALLS", 1, minimum=1, maximum=100),
        "close_after": integer(environ, "BREAKER_CLOSE_AFTER", 2, minimum=1, maximum=100),
        "consecutive_failures": integer(environ, "BREAKER_CONSECUTIVE_FAILURES", 5, minimum=0, maximum=1000),
    }


def mail(environ, instance_path) -> dict:
    """E-mail (citizens' follows, services/email_follows): SMTP when MAIL_SERVER is set, else .eml files in
    instance/outbox/; see the README, "E-mail follows for citizens"."""
    use_tls = choice(environ, "MAIL_USE_TLS", "false", ("true", "false")) == "true"
    return {
        "MAIL_SERVER": (environ.get("MAIL_SERVER") or "").strip() or None,
        "MAIL_PORT": integer(environ, "MAIL_PORT", 587 if use_tls else 25, minimum=1, maximum=65535),
        "MAIL_USE_TLS": use_tls,  # STARTTLS after connecting
        "MAIL_USERNAME": (environ.get("MAIL_USERNAME") or "").strip() or None,
        "MAIL_PASSWORD": environ.get("MAIL_PASSWORD") or None,
        "MAIL_FROM": mail_address(environ, "MAIL_FROM", DEFAULT_MAIL_FROM),
        # Optional: a mailbox that unsubscribes whoever writes to it (a second List-Unsubscribe target).
        "MAIL_UNSUBSCRIBE_ADDRESS": mail_address(environ, "MAIL_UNSUBSCRIBE_ADDRESS", None),
        "MAIL_TIMEOUT_S": number(environ, "MAIL_TIMEOUT_S", 10.0, minimum=0.5, maximum=60),
        "MAIL_OUTBOX_DIR": os.path.join(instance_path, "outbox"),
        # The portal's address as citizens reach it: the links inside e-mails (sent outside any request).
        "PUBLIC_BASE_URL": http_url(environ, "PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "EMAIL_FOLLOWS_CONFIRMATIONS_PER_DAY": integer(environ, "EMAIL_FOLLOWS_CONFIRMATIONS_PER_DAY", 3, minimum=1,
                                                    maximum=100),
        "EMAIL_FOLLOWS_MAX_PER_ADDRESS": integer(environ, "EMAIL_FOLLOWS_MAX_PER_ADDRESS", 20, minimum=1, maximum=1000),
        "EMAIL_FOLLOWS_RATE_LIMIT": rate_limit(environ, "EMAIL_FOLLOWS_RATE_LIMIT", "10/hour"),
        "EMAIL_FOLLOWS_SEND_ATTEMPTS": integer(environ, "EMAIL_FOLLOWS_SEND_ATTEMPTS", 5, minimum=1, maximum=20),
        "EMAIL_FOLLOWS_IDLE_DAYS": integer(environ, "EMAIL_FOLLOWS_IDLE_DAYS", 730, minimum=30),
    }


def mail_warnings(environ, settings) -> list[str]:
    """What a production start-up should say about e-mail left on its development defaults."""
    warnings = []
    if not settings["MAIL_SERVER"]:
        warnings.append(f"MAIL_SERVER is not set: e-mails are written to {settings['MAIL_OUTBOX_DIR']} "
                        "instead of being sent")
    if not (environ.get("PUBLIC_BASE_URL") or "").strip():
        warnings.append("PUBLIC_BASE_URL is not set: links in e-mails point to " + settings["PUBLIC_BASE_URL"])
    return warnings


def monitoring(environ) -> dict:
    """The dashboard's collector, /metrics access and the alert rules (thresholds: warning, error, critical)."""
    return {
        "METRICS_ALLOWED_ADDRESSES": addresses(environ, "METRICS_ALLOWED_ADDRESSES", "127.0.0.1,::1"),
        "MONITORING_COLLECTOR": choice(environ, "MONITORING_COLLECTOR", "true", ("true", "false")) == "true",
        "MONITORING_SAMPLE_INTERVAL_S": integer(environ, "MONITORING_SAMPLE_INTERVAL_S", 30, minimum=5, maximum=3600),
        "MONITORING_HISTORY_SIZE": integer(environ, "MONITORING_HISTORY_SIZE", 1000, minimum=10, maximum=100_000),
        "ALERT_CPU_PERCENT": thresholds(environ, "ALERT_CPU_PERCENT", (80.0, 90.0, 97.0), maximum=100),
        "ALERT_MEMORY_PERCENT": thresholds(environ, "ALERT_MEMORY_PERCENT", (80.0, 90.0, 95.0), maximum=100),
        "ALERT_DISK_PERCENT": thresholds(environ, "ALERT_DISK_PERCENT", (80.0, 90.0, 95.0), maximum=100),
        "ALERT_ERROR_RATE_PERCENT": thresholds(environ, "ALERT_ERROR_RATE_PERCENT", (2.0, 5.0, 20.0), maximum=100),
        "ALERT_P95_LATENCY_MS": thresholds(environ, "ALERT_P95_LATENCY_MS", (1000.0, 2500.0, 5000.0)),
        "ALERT_CACHE_HIT_RATE_PERCENT": thresholds(environ, "ALERT_CACHE_HIT_RATE_PERCENT", (50.0, 25.0, 10.0),
                                                    higher_is_worse=False, maximum=100),
        "ALERT_SYNC_FAILURES": thresholds(environ, "ALERT_SYNC_FAILURES", (1.0, 3.0, 6.0)),
        "ALERT_CLEAR_MARGIN_PERCENT": number(environ, "ALERT_CLEAR_MARGIN_PERCENT", 10.0, minimum=0, maximum=50),
        "ALERT_CLEAR_AFTER_S": integer(environ, "ALERT_CLEAR_AFTER_S", 120, minimum=0, maximum=86400),
    }


def jobs(environ) -> dict:
    """Background jobs (services.jobs): RQ on REDIS_URL, else in-process timers; see the README, "Background jobs"."""
    return {
        # auto: RQ when REDIS_URL is set, else in-process; "eager" runs each job in the caller (tests, scripts).
        "JOBS_MODE": choice(environ, "JOBS_MODE", "auto", ("auto", "rq", "inprocess", "eager")),
        "JOBS_RETENTION_INTERVAL_S": integer(environ, "JOBS_RETENTION_INTERVAL_S", 86400, minimum=60),
        "JOBS_CHAT_CLEANUP_INTERVAL_S": integer(environ, "JOBS_CHAT_CLEANUP_INTERVAL_S", 3600, minimum=60),
        "JOBS_MAINTENANCE_INTERVAL_S": integer(environ, "JOBS_MAINTENANCE_INTERVAL_S", 60, minimum=1, maximum=3600),
    }


def load(environ, instance_path) -> LoadedConfig:
    """Read every setting from `environ`; raise ConfigError on the first bad value."""
    os.makedirs(instance_path, exist_ok=True)
    app_env = choice(environ, "APP_ENV", "development", APP_ENVS)
    production = app_env == "production"
    uri = database_uri(environ, instance_path)
    secret, secret_warning = session_secret(environ, instance_path, production)
    log_file = (environ.get("LOG_FILE") or "").strip() or None
    settings = {
        "APP_ENV": app_env,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": uri,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(environ, uri),
        "SLOW_QUERY_MS": integer(environ, "SLOW_QUERY_MS", 1000, minimum=0),
        "REDIS_URL": redis_url(environ),
        "LOG_LEVEL": choice(environ, "LOG_LEVEL", "INFO", LOG_LEVELS, transform=str.upper),
        "LOG_FILE": log_file,
        # JSON for files and production; a developer's console gets one short readable line per request.
        "LOG_FORMAT": choice(environ, "LOG_FORMAT", "text" if app_env == "development" and not log_file else "json",
                              ("json", "text")),
        "TRUSTED_PROXIES": integer(environ, "TRUSTED_PROXIES", 0, minimum=0, maximum=10),
        "FEEDBACK_RETENTION_DAYS": integer(environ, "FEEDBACK_RETENTION_DAYS", 365, minimum=1),
        "CACHE_MEMORY_MAX_ENTRIES": integer(environ, "CACHE_MEMORY_MAX_ENTRIES", 10_000, minimum=100),
        "REDIS_TIMEOUT_MS": integer(environ, "REDIS_TIMEOUT_MS", 100, minimum=5, maximum=5000),
        "CACHE_DEFAULT_TTL": integer(environ, "CACHE_DEFAULT_TTL", 300, minimum=1),
        "CACHE_KEY_PREFIX": key_prefix(environ),
        "DEPENDENCIES": dependencies(environ),
        "BREAKER": breaker_defaults(environ),
        # CNJ publishes this key on the DataJud wiki and may rotate it: configurable, never logged.
        "DATAJUD_API_KEY": (environ.get("DATAJUD_API_KEY") or "").strip() or DATAJUD_PUBLIC_KEY,
        "ESCAVADOR_API_KEY": (environ.get("ESCAVADOR_API_KEY") or "").strip() or None,
        # The assistant: without OPENAI_API_KEY it answers from retrieval alone (the embedded default).
        "OPENAI_API_KEY": (environ.get("OPENAI_API_KEY") or "").strip() or None,
        "OPENAI_MODEL": (environ.get("OPENAI_MODEL") or "").strip() or "gpt-4o-mini",
        "ASSISTANT_LLM_CONCURRENCY": integer(environ, "ASSISTANT_LLM_CONCURRENCY", 4, minimum=1, maximum=64),
        "ASSISTANT_CACHE_TTL": integer(environ, "ASSISTANT_CACHE_TTL", 3600, minimum=0),
        "ASSISTANT_RATE_LIMIT": rate_limit(environ, "ASSISTANT_RATE_LIMIT", "30/minute"),
        "CHAT_RETENTION_DAYS": integer(environ, "CHAT_RETENTION_DAYS", 30, minimum=1),
        **jobs(environ),
        "SYNC_ENABLED": choice(environ, "SYNC_ENABLED", "true", ("true", "false")) == "true",
        "SYNC_INTERVAL_S": integer(environ, "SYNC_INTERVAL_S", 1800, minimum=60),
        "SYNC_BATCH_SIZE": integer(environ, "SYNC_BATCH_SIZE", 10, minimum=1, maximum=1000),
        "SYNC_DAILY_BUDGET": integer(environ, "SYNC_DAILY_BUDGET", 200, minimum=0),
        "PROCESS_CACHE_TTL": integer(environ, "PROCESS_CACHE_TTL", 3600, minimum=1),
        "PROCESS_DB_TTL": integer(environ, "PROCESS_DB_TTL", 86400, minimum=1),
        "PROCESS_NEGATIVE_TTL": integer(environ, "PROCESS_NEGATIVE_TTL", 600, minimum=1),
        "PROCESS_RETENTION_DAYS": integer(environ, "PROCESS_RETENTION_DAYS", 7, minimum=1),
        "LOOKUP_RATE_LIMIT": rate_limit(environ, "LOOKUP_RATE_LIMIT", "20/minute"),
        # A staff "atualizar agora" runs on the high queue; the page waits this long for its answer.
        "STAFF_REFRESH_WAIT_S": integer(environ, "STAFF_REFRESH_WAIT_S", 20, minimum=0, maximum=60),
        "FEEDBACK_RATE_LIMIT": rate_limit(environ, "FEEDBACK_RATE_LIMIT", "10/minute"),
        "LOGIN_RATE_LIMIT": rate_limit(environ, "LOGIN_RATE_LIMIT", "10/minute"),
        "LOGIN_ACCOUNT_RATE_LIMIT": rate_limit(environ, "LOGIN_ACCOUNT_RATE_LIMIT", "20/hour"),
        "LOGIN_MAX_FAILURES": integer(environ, "LOGIN_MAX_FAILURES", 5, minimum=1, maximum=100),
        "LOGIN_LOCKOUT_S": integer(environ, "LOGIN_LOCKOUT_S", 900, minimum=1),
        "LOGIN_FRESH_S": integer(environ, "LOGIN_FRESH_S", 900, minimum=1),
        "RETRY_MAX_ATTEMPTS": integer(environ, "RETRY_MAX_ATTEMPTS", 3, minimum=1, maximum=10),
        "RETRY_BUDGET_PERCENT": number(environ, "RETRY_BUDGET_PERCENT", 20.0, minimum=0, maximum=100),
        # Flask-Limiter: Redis shared by all workers when configured; a Redis failure falls back to
        # per-process memory and never fails the request.
        "RATELIMIT_STORAGE_URI": redis_url(environ) or "memory://",
        "RATELIMIT_STORAGE_OPTIONS": {},  # with Redis: the process's client's pool (services.redis_connection)
        "RATELIMIT_STRATEGY": "moving-window",
        "RATELIMIT_KEY_PREFIX": key_prefix(environ) + "limiter",
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        **monitoring(environ),
        **mail(environ, instance_path),
        # Fixed rules of the house, not environment settings.
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=2),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_NAME": "portal_session",
        "WTF_CSRF_TIME_LIMIT": 2 * 3600,
        "READY_CHECK_TIMEOUT": 1.0,
        "READY_CACHE_SECONDS": 5.0,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    }
    warnings = [secret_warning] if secret_warning else []
    if production:
        warnings += mail_warnings(environ, settings)
    return LoadedConfig(settings, warnings)


def from_environment(instance_path) -> LoadedConfig:
    """The settings of this process, from its environment."""
    return load(os.environ, instance_path)
