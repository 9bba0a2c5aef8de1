"""Every setting of the portal: its name, its default, and how its value is checked.

This is the only module that reads the environment. `load(environ, instance_path)` turns the
environment into a plain dict of Flask config keys, or raises `ConfigError` with one line that
names the variable at fault. The embedded defaults run the portal with nothing set: SQLite under
`instance/`, the in-memory cache and a session secret generated once and kept under `instance/`.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

APP_ENVS = ("development", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SECRET_FILE = "session_secret"  # noqa: S105 - a file name, not a secret
MIN_SECRET_LENGTH = 32


class ConfigError(Exception):
    """A setting has a value the portal cannot start with; the message names the variable."""


@dataclass
class LoadedConfig:
    settings: dict
    warnings: list[str] = field(default_factory=list)


def _int(environ, name, default, minimum=0, maximum=None):
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{name} must be {bounds}, got {value}")
    return value


def _choice(environ, name, default, choices, transform=str.lower):
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = transform(raw.strip())
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


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
        "pool_size": _int(environ, "DB_POOL_SIZE", 5, minimum=1, maximum=100),
        "max_overflow": _int(environ, "DB_MAX_OVERFLOW", 10, minimum=0, maximum=100),
        "pool_timeout": _int(environ, "DB_POOL_TIMEOUT", 5, minimum=1, maximum=60),
        "pool_recycle": _int(environ, "DB_POOL_RECYCLE", 1800, minimum=60),
        "pool_pre_ping": True,
        "connect_args": {"connect_timeout": _int(environ, "DB_CONNECT_TIMEOUT", 3, minimum=1, maximum=60)},
    }


def load(environ, instance_path) -> LoadedConfig:
    """Read every setting from `environ`; raise ConfigError on the first bad value."""
    os.makedirs(instance_path, exist_ok=True)
    app_env = _choice(environ, "APP_ENV", "development", APP_ENVS)
    production = app_env == "production"
    uri = database_uri(environ, instance_path)
    secret, secret_warning = session_secret(environ, instance_path, production)
    log_file = (environ.get("LOG_FILE") or "").strip() or None
    settings = {
        "APP_ENV": app_env,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": uri,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(environ, uri),
        "SLOW_QUERY_MS": _int(environ, "SLOW_QUERY_MS", 1000, minimum=0),
        "REDIS_URL": redis_url(environ),
        "LOG_LEVEL": _choice(environ, "LOG_LEVEL", "INFO", LOG_LEVELS, transform=str.upper),
        "LOG_FILE": log_file,
        "LOG_MAX_BYTES": _int(environ, "LOG_MAX_BYTES", 10 * 1024 * 1024, minimum=1024),
        "LOG_BACKUP_COUNT": _int(environ, "LOG_BACKUP_COUNT", 5, minimum=0, maximum=100),
        "TRUSTED_PROXIES": _int(environ, "TRUSTED_PROXIES", 0, minimum=0, maximum=10),
        "FEEDBACK_RETENTION_DAYS": _int(environ, "FEEDBACK_RETENTION_DAYS", 365, minimum=1),
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
    return LoadedConfig(settings, [secret_warning] if secret_warning else [])


def from_environment(instance_path) -> LoadedConfig:
    """The settings of this process, from its environment."""
    return load(os.environ, instance_path)
